"""The strategy's pace: evenly spaced slots, no saved-up bursts."""

from __future__ import annotations

import itertools

import pytest

from postline.mta.pacing import Pacer


class FakeTime:
    """A clock that moves only when the pacer sleeps (or a test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def _times(pacer: Pacer, clock: FakeTime, count: int) -> list[float]:
    stamps = []
    for _ in range(count):
        await pacer.wait()
        stamps.append(clock.now)
    return stamps


async def test_slots_are_spread_evenly_over_the_interval() -> None:
    clock = FakeTime()
    pacer = Pacer(100, 1, catch_up=0.0, clock=clock, sleep=clock.sleep)

    stamps = await _times(pacer, clock, 11)

    gaps = [later - earlier for earlier, later in itertools.pairwise(stamps)]
    assert gaps == pytest.approx([0.01] * 10)


async def test_idle_time_is_not_saved_up_into_a_burst() -> None:
    clock = FakeTime()
    pacer = Pacer(20, 1, catch_up=0.05, clock=clock, sleep=clock.sleep)
    await pacer.wait()
    clock.now += 0.3  # an idle spell: six slots pass unused

    start = clock.now
    stamps = await _times(pacer, clock, 4)

    # At most one slot's worth of catch-up: four sends span three gaps less one.
    assert [t - start for t in stamps] == pytest.approx([0.0, 0.0, 0.05, 0.1])
