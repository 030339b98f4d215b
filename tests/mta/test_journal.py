"""The journal: records written at once, fsynced in groups, torn tails told from
damage.
"""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from postline.errors import SpoolError
from postline.mta.journal import Journal
from postline.mta.records import (
    ADD,
    Record,
    damage_after,
    decode_all,
    encode,
    intact_length,
)


def test_a_frame_decodes_back_to_its_header_and_body_place() -> None:
    frame, body_at = encode(Record(ADD, {"id": "7.1.e"}, b"the body"))

    [framed] = list(decode_all(frame))

    assert framed.record.header == {"id": "7.1.e"}
    assert frame[framed.body_offset : framed.end] == b"the body"
    assert framed.body_offset == body_at


def test_a_frame_with_a_flipped_bit_is_not_decoded() -> None:
    frame, _ = encode(Record(ADD, {"id": "7.1.e"}, b"the body"))
    damaged = frame[:-1] + bytes([frame[-1] ^ 1])

    assert list(decode_all(damaged)) == []


async def test_many_waiting_appends_share_few_fsyncs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        nonlocal calls
        calls += 1
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    journal = Journal(tmp_path)
    list(journal.replay())
    flusher = asyncio.create_task(journal.run_flusher())

    async def append_and_wait(n: int) -> None:
        position = journal.append(Record(ADD, {"n": n}, b"x" * 100))
        await journal.durable(position.lsn)

    try:
        await asyncio.gather(*(append_and_wait(n) for n in range(400)))
    finally:
        flusher.cancel()
        await asyncio.gather(flusher, return_exceptions=True)
        journal.close()

    assert journal.is_durable(400)
    assert 0 < calls < 40


async def test_a_full_segment_rolls_over_to_a_new_one(tmp_path: Path) -> None:
    journal = Journal(tmp_path, segment_bytes=1000)
    list(journal.replay())
    first = journal.current

    positions = [journal.append(Record(ADD, {"n": n}, b"x" * 300)) for n in range(6)]
    bodies = [journal.read_body(p.segment, p.body_offset, 300) for p in positions]
    journal.close()

    assert journal.current > first
    assert len({p.segment for p in positions}) > 1
    assert bodies == [b"x" * 300] * 6


def _frames(count: int) -> bytes:
    return b"".join(
        encode(Record(ADD, {"n": n}, b"body %d" % n))[0] for n in range(count)
    )


@pytest.mark.parametrize(
    "tail",
    [
        pytest.param(lambda frame: frame[:-5], id="a frame cut short"),
        pytest.param(lambda frame: frame[:6], id="a frame header cut short"),
        pytest.param(lambda frame: bytes(len(frame)), id="zero bytes"),
    ],
)
def test_a_tail_a_crash_can_leave_is_called_torn(
    tail: Callable[[bytes], bytes],
) -> None:
    whole = _frames(3)
    last, _ = encode(Record(ADD, {"n": 3}, b"the last body"))

    damage = damage_after(whole + tail(last), len(whole))

    assert damage is not None
    assert (damage.offset, damage.torn) == (len(whole), True)


@pytest.mark.parametrize("where", ["crc", "header", "body"])
def test_a_whole_last_frame_failing_its_checksum_is_damage_not_a_torn_tail(
    where: str,
) -> None:
    whole = _frames(3)
    last = bytearray(encode(Record(ADD, {"n": 3}, b"the last body"))[0])
    last[{"crc": 5, "header": 15, "body": len(last) - 1}[where]] ^= 0x01

    damage = damage_after(whole + bytes(last), len(whole))

    assert damage is not None
    assert (damage.offset, damage.torn) == (len(whole), False)
    assert damage.reason == "checksum mismatch"


def test_a_whole_last_frame_still_zero_after_its_length_is_a_torn_tail() -> None:
    whole = _frames(3)
    last, _ = encode(Record(ADD, {"n": 3}, b"the last body"))
    unwritten = last[:4] + bytes(len(last) - 4)

    damage = damage_after(whole + unwritten, len(whole))

    assert damage is not None
    assert (damage.offset, damage.torn) == (len(whole), True)


def test_a_bad_frame_with_records_after_it_is_damage_not_a_torn_tail() -> None:
    data = bytearray(_frames(4))
    first_end = next(decode_all(bytes(data))).end
    data[first_end] ^= 0x40  # the length of the second frame

    intact = intact_length(bytes(data))
    damage = damage_after(bytes(data), intact)

    assert intact == first_end
    assert damage is not None
    assert (damage.offset, damage.torn) == (first_end, False)


def test_a_failed_append_is_cut_back_and_the_next_follows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(tmp_path)
    list(journal.replay())
    journal.append(Record(ADD, {"n": 1}, b"first"))
    real_write = os.write

    def half_then_fail(fd: int, data: bytes | memoryview) -> int:
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_fail)
    with pytest.raises(SpoolError):
        journal.append(Record(ADD, {"n": 2}, b"second"))
    monkeypatch.setattr(os, "write", real_write)
    journal.append(Record(ADD, {"n": 3}, b"third"))
    journal.close()

    reopened = Journal(tmp_path)
    headers = [framed.record.header["n"] for _, framed in reopened.replay()]
    reopened.close()

    assert headers == [1, 3]
    assert len(list(tmp_path.glob("*.journal"))) == 1
