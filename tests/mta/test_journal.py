"""The journal: records are written at once and fsynced in groups."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from postline.mta.journal import Journal
from postline.mta.records import ADD, Record, decode_all, encode


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
