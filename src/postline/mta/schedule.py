"""Spooled messages in sending order: due time first, then queue order."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
from collections.abc import Callable


class DueQueue:
    """A heap of (due, seq, message id) that workers wait on.

    Items go stale when a message is finished, taken or rescheduled; ``pop``
    asks ``current(message_id, due)`` and drops those it denies, so nothing
    has to be removed from the middle of the heap.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, str]] = []
        self._changed = asyncio.Event()
        self._closed = False

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, due: float, seq: int, message_id: str) -> None:
        heapq.heappush(self._heap, (due, seq, message_id))
        self._changed.set()

    def close(self) -> None:
        """Wake every waiter; ``pop`` returns None from now on."""
        self._closed = True
        self._changed.set()

    async def pop(self, current: Callable[[str, float], bool]) -> str | None:
        """The id of the first message that is due, waiting until one is."""
        while not self._closed:
            self._drop_stale(current)
            delay = self._heap[0][0] - self._clock() if self._heap else None
            if delay is not None and delay <= 0:
                return heapq.heappop(self._heap)[2]

            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), delay)
        return None

    def _drop_stale(self, current: Callable[[str, float], bool]) -> None:
        while self._heap and not current(self._heap[0][2], self._heap[0][0]):
            heapq.heappop(self._heap)
