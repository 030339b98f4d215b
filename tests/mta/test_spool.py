"""The spool: what survives a reopen, a torn tail, damage, and compaction."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mta.helpers import email
from postline.bus.events import StatusEvent
from postline.errors import SpoolError
from postline.mta.envelope import Envelope
from postline.mta.records import decode_all
from postline.mta.spool import Interrupted, Spool

DAY = 86400.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@contextlib.asynccontextmanager
async def opened(
    directory: Path, **options: object
) -> AsyncIterator[tuple[Spool, list[Interrupted]]]:
    spool = Spool(directory, retention=2 * DAY, **options)  # type: ignore[arg-type]
    interrupted = spool.open()
    flusher = asyncio.create_task(spool.journal.run_flusher())
    try:
        yield spool, interrupted
    finally:
        flusher.cancel()
        await asyncio.gather(flusher, return_exceptions=True)
        spool.close()


def _event(message_id: str, status: str = "delivered", attempt: int = 1) -> StatusEvent:
    return StatusEvent(message_id=message_id, status=status, attempt=attempt)  # type: ignore[arg-type]


def _segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.journal"))


def _cut_tail(path: Path, length: int) -> None:
    os.truncate(path, path.stat().st_size - length)


def _flip(path: Path, offset: int) -> bytes:
    """Invert the byte at ``offset`` in place; the file's new bytes."""
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(data)
    return bytes(data)


async def _drain_due(spool: Spool) -> list[str]:
    ids = []
    while len(spool.queue):
        try:
            entry = await asyncio.wait_for(spool.next_due(), 0.5)
        except TimeoutError:
            break
        assert entry is not None
        ids.append(entry.envelope.message_id)
    return ids


async def test_spooled_messages_survive_a_reopen_with_bodies_and_queue_order(
    tmp_path: Path,
) -> None:
    messages = [
        email(n, body=f"Subject: {n}\r\n\r\nbody {n}\r\n".encode()) for n in range(5)
    ]
    async with opened(tmp_path) as (spool, _):
        for message in messages:
            spool.add(message, due=0.0)

    async with opened(tmp_path) as (spool, interrupted):
        order = await _drain_due(spool)
        bodies = {m: spool.read_body(spool._entries[m]) for m in order}

    assert interrupted == []
    assert order == [m.message_id for m in messages]
    assert bodies == {m.message_id: m.body for m in messages}


async def test_a_torn_tail_is_ignored_with_a_warning_and_the_spool_keeps_working(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with opened(tmp_path) as (spool, _):
        for n in range(3):
            spool.add(email(n))
    _cut_tail(_segments(tmp_path)[-1], 10)

    with caplog.at_level(logging.WARNING, logger="postline.mta.journal"):
        async with opened(tmp_path) as (spool, _):
            after_crash = spool.pending
            spool.add(email(3))
    async with opened(tmp_path) as (spool, _):
        known = [n for n in range(4) if email(n).message_id in spool]

    assert after_crash == 2
    assert known == [0, 1, 3]
    assert [r.message.split()[0] for r in caplog.records] == ["spool_torn_tail"]
    assert len(_segments(tmp_path)) == 1


@pytest.mark.parametrize("where", ["body", "length"])
async def test_a_flipped_byte_mid_segment_refuses_to_open_and_keeps_the_file(
    tmp_path: Path, where: str
) -> None:
    async with opened(tmp_path) as (spool, _):
        for n in range(1, 4):
            spool.add(email(n))
    [segment] = _segments(tmp_path)
    second = list(decode_all(segment.read_bytes()))[1]
    # The body's last byte, or the high byte of the frame's length.
    at = second.end - 1 if where == "body" else second.offset
    damaged = _flip(segment, at)

    with pytest.raises(SpoolError) as caught:
        Spool(tmp_path, retention=DAY).open()

    message = str(caught.value)
    assert f"{segment} is damaged at byte {second.offset} " in message
    assert "move the file out of" in message
    assert segment.read_bytes() == damaged


async def test_a_flipped_byte_in_the_last_whole_record_refuses_to_open(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with opened(tmp_path) as (spool, _):
        for n in range(1, 4):
            spool.add(email(n))
    [segment] = _segments(tmp_path)
    last = list(decode_all(segment.read_bytes()))[-1]
    damaged = _flip(segment, last.body_offset + 3)

    with (
        caplog.at_level(logging.WARNING, logger="postline.mta.journal"),
        pytest.raises(SpoolError) as caught,
    ):
        Spool(tmp_path, retention=DAY).open()

    message = str(caught.value)
    assert f"{segment} is damaged at byte {last.offset} (checksum mismatch" in message
    assert "refusing to open the spool" in message
    assert segment.read_bytes() == damaged
    assert caplog.records == []


async def test_a_last_record_still_zero_after_its_length_is_cut_off_as_torn(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with opened(tmp_path) as (spool, _):
        for n in range(1, 4):
            spool.add(email(n))
    [segment] = _segments(tmp_path)
    last = list(decode_all(segment.read_bytes()))[-1]
    data = segment.read_bytes()
    # The file grew, but the record's bytes after its length never reached disk.
    segment.write_bytes(data[: last.offset + 4] + bytes(last.end - last.offset - 4))

    with caplog.at_level(logging.WARNING, logger="postline.mta.journal"):
        async with opened(tmp_path) as (spool, _):
            known = [n for n in range(1, 4) if email(n).message_id in spool]

    assert known == [1, 2]
    assert [r.message.split()[0] for r in caplog.records] == ["spool_torn_tail"]
    assert segment.stat().st_size == last.offset


async def test_a_torn_tail_in_an_older_segment_refuses_to_open(
    tmp_path: Path,
) -> None:
    body = b"Subject: x\r\n\r\n" + b"y" * 600 + b"\r\n"
    async with opened(tmp_path, segment_bytes=2048) as (spool, _):
        for n in range(1, 8):
            spool.add(email(n, body=body))
    older = _segments(tmp_path)[0]
    _cut_tail(older, 10)

    with pytest.raises(SpoolError, match=re.escape(f"{older} is damaged at byte")):
        Spool(tmp_path, retention=DAY, segment_bytes=2048).open()


async def test_compaction_keeps_a_segment_it_cannot_read_in_full(
    tmp_path: Path,
) -> None:
    body = b"Subject: x\r\n\r\n" + b"y" * 600 + b"\r\n"
    messages = [email(n, body=body) for n in range(1, 21)]
    async with opened(tmp_path, segment_bytes=4096) as (spool, _):
        for message in messages:
            spool.add(message)
        for message in messages[:-1]:
            spool.finish(message.message_id, 1, [])
        oldest = _segments(tmp_path)[0]
        damaged = _flip(oldest, oldest.stat().st_size // 2)

        removed = await spool.compact()
        again = await spool.compact()

    assert (removed, again) == (0, 0)
    assert oldest.read_bytes() == damaged


async def test_restarts_of_a_spool_with_a_backlog_add_no_segments(
    tmp_path: Path,
) -> None:
    later = 1_900_000_000.0
    async with opened(tmp_path) as (spool, _):
        for n in range(1, 21):
            spool.add(email(n), due=later)
    counts = []

    for n in range(1, 11):
        async with opened(tmp_path) as (spool, _):
            spool.defer(email(n).message_id, 1, later, _event(f"7.{n}.e", "deferred"))
        counts.append(len(_segments(tmp_path)))
    async with opened(tmp_path) as (spool, _):
        attempts = [spool._entries[email(n).message_id].attempt for n in (1, 10, 11)]

    assert counts == [1] * 10
    assert attempts == [1, 1, 0]


def test_a_spool_directory_under_a_file_is_a_spool_error(tmp_path: Path) -> None:
    blocker = tmp_path / "spool"
    blocker.write_text("not a directory")

    with pytest.raises(SpoolError, match=re.escape(f"{blocker} is not a directory")):
        Spool(blocker / "3", retention=DAY).open()


def test_a_directory_named_like_a_segment_is_a_spool_error(tmp_path: Path) -> None:
    (tmp_path / "00000001.journal").mkdir()

    with pytest.raises(SpoolError, match=r"00000001\.journal is a directory"):
        Spool(tmp_path, retention=DAY).open()


async def test_garbage_after_the_last_record_is_ignored(tmp_path: Path) -> None:
    async with opened(tmp_path) as (spool, _):
        spool.add(email(1))
    fd = os.open(_segments(tmp_path)[-1], os.O_WRONLY | os.O_APPEND)
    os.write(fd, b"\x00\x00\x01\x00garbage that is no frame")
    os.close(fd)

    async with opened(tmp_path) as (spool, _):
        assert spool.pending == 1


async def test_a_known_id_is_not_spooled_twice(tmp_path: Path) -> None:
    async with opened(tmp_path) as (spool, _):
        first = spool.add(email(1))
        again = spool.add(email(1))
        spool.finish(email(2).message_id, 1, [])
        after_finish = spool.add(email(2))

    assert first is not None
    assert again is None
    assert after_finish is None


async def test_a_deferral_keeps_its_attempt_count_and_due_time_across_a_reopen(
    tmp_path: Path,
) -> None:
    message = email(1)
    async with opened(tmp_path) as (spool, _):
        spool.add(message)
        spool.defer(message.message_id, 1, 1_900_000_000.0, _event("7.1.e", "deferred"))

    async with opened(tmp_path) as (spool, _):
        entry = spool._entries[message.message_id]

    assert (entry.attempt, entry.due) == (1, 1_900_000_000.0)


async def test_an_attempt_cut_off_after_its_sending_record_is_reported(
    tmp_path: Path,
) -> None:
    spooled, priority, finished = email(1), email(2), email(3)
    async with opened(tmp_path) as (spool, _):
        spool.add(spooled)
        spool.mark_sending(Envelope.of(spooled), 1)
        spool.claim(priority.message_id)
        spool.mark_sending(Envelope.of(priority), 1)
        spool.add(finished)
        spool.mark_sending(Envelope.of(finished), 1)
        spool.finish(finished.message_id, 1, [])

    async with opened(tmp_path) as (spool, interrupted):
        due = await _drain_due(spool)

    assert sorted(i.envelope.message_id for i in interrupted) == [
        spooled.message_id,
        priority.message_id,
    ]
    assert all(i.attempt == 1 for i in interrupted)
    assert due == []


async def test_unconfirmed_events_survive_a_reopen_and_confirmed_ones_do_not(
    tmp_path: Path,
) -> None:
    async with opened(tmp_path) as (spool, _):
        spool.finish("7.1.e", 1, [_event("7.1.e")])
        spool.finish("7.2.e", 1, [_event("7.2.e")])
        spool.confirm(["7.1.e:1:delivered"])

    async with opened(tmp_path) as (spool, _):
        waiting = [event.message_id for event, _ in spool.unpublished(10)]

    assert waiting == ["7.2.e"]


async def test_compaction_keeps_live_messages_tombstones_and_events(
    tmp_path: Path,
) -> None:
    body = b"Subject: x\r\n\r\n" + b"y" * 600 + b"\r\n"
    messages = [email(n, body=body) for n in range(60)]
    async with opened(tmp_path, segment_bytes=4096) as (spool, _):
        for message in messages:
            spool.add(message)
        for message in messages[:55]:
            spool.finish(message.message_id, 1, [_event(message.message_id)])
        spool.confirm([f"{m.message_id}:1:delivered" for m in messages[:54]])
        spool.defer(messages[57].message_id, 1, 1.0, _event("7.57.e", "deferred"))
        segments_before = len(_segments(tmp_path))

        removed = await spool.compact()

    segments_after = len(_segments(tmp_path))
    async with opened(tmp_path) as (spool, _):
        live = {m: spool.read_body(e) for m, e in spool._entries.items()}
        attempts = spool._entries[messages[57].message_id].attempt
        finished = all(m.message_id in spool for m in messages[:55])
        events = {event.event_id for event, _ in spool.unpublished(100)}

    assert removed > 0
    assert segments_after < segments_before
    assert live == {m.message_id: body for m in messages[55:]}
    assert attempts == 1
    assert finished
    assert {"7.54.e:1:delivered", "7.57.e:1:deferred"} <= events


async def test_a_long_deferred_message_at_the_head_does_not_hold_up_compaction(
    tmp_path: Path,
) -> None:
    body = b"Subject: x\r\n\r\n" + b"y" * 600 + b"\r\n"
    # Big enough to keep the first segment mostly live on its own.
    waiting = email(0, body=b"Subject: w\r\n\r\n" + b"w" * 1500 + b"\r\n")
    async with opened(tmp_path, segment_bytes=2048) as (spool, _):
        spool.add(waiting)
        spool.defer(waiting.message_id, 1, 1.0, _event("7.0.e", "deferred"))
        spool.confirm(["7.0.e:1:deferred"])
        for n in range(1, 40):
            spool.add(email(n, body=body))
            spool.finish(email(n).message_id, 1, [])
        segments_before = len(_segments(tmp_path))

        await spool.compact()

        assert spool.read_body(spool._entries[waiting.message_id]) == waiting.body
    assert len(_segments(tmp_path)) <= 3 < segments_before


async def test_finished_ids_are_forgotten_after_the_retention(tmp_path: Path) -> None:
    clock = Clock()
    async with opened(tmp_path, clock=clock) as (spool, _):
        spool.finish("7.1.e", 1, [])
        clock.now += 2 * DAY - 1
        kept = spool.prune()
        still_known = "7.1.e" in spool
        clock.now += 2
        dropped = spool.prune()

        assert (kept, still_known, dropped) == (0, True, 1)
        assert "7.1.e" not in spool


@pytest.mark.parametrize("ahead", [0.0, 5.0])
async def test_a_message_is_due_only_at_its_due_time(
    tmp_path: Path, ahead: float
) -> None:
    clock = Clock()
    async with opened(tmp_path, clock=clock) as (spool, _):
        spool.add(email(1), due=clock.now + ahead)
        try:
            entry = await asyncio.wait_for(spool.next_due(), 0.2)
        except TimeoutError:
            entry = None

    assert (entry is not None) == (ahead == 0.0)
