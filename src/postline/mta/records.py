"""The records of the spool journal and their CRC-framed encoding.

A frame is ``length (4 bytes) | crc32 (4 bytes) | payload``, big-endian; the
payload is ``kind (1 byte) | header length (4 bytes) | JSON header | body``.
A frame whose length runs past the end of the file or whose CRC does not match
marks a torn tail: it and everything after it in that file are ignored.

Kinds:

    A  add       a spooled message with its state (attempt, due, sending) and body
    S  sending   the final dot of an attempt is about to be sent
    O  outcome   an attempt's result: deferred (with the next due time) or final
    E  event     a status event not yet confirmed by RabbitMQ, restated
    P  published status events RabbitMQ confirmed, by event id
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

ADD = "A"
SENDING = "S"
OUTCOME = "O"
EVENT = "E"
PUBLISHED = "P"

_FRAME = struct.Struct(">II")
_HEAD = struct.Struct(">cI")

# A frame longer than this is a torn length field, not a record.
MAX_FRAME = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Record:
    """One journal record: a kind, a JSON header and an optional body."""

    kind: str
    header: dict[str, Any]
    body: bytes = field(default=b"", repr=False)


@dataclass(frozen=True, slots=True)
class Framed:
    """A record read back (without its body), with where the body sits."""

    record: Record
    offset: int
    body_offset: int
    end: int

    @property
    def body_length(self) -> int:
        return self.end - self.body_offset


def encode(record: Record) -> tuple[bytes, int]:
    """The frame of a record, and the offset of its body within the frame."""
    head = json.dumps(record.header, separators=(",", ":")).encode()
    payload = _HEAD.pack(record.kind.encode(), len(head)) + head + record.body
    frame = _FRAME.pack(len(payload), zlib.crc32(payload)) + payload
    return frame, _FRAME.size + _HEAD.size + len(head)


def decode_all(data: bytes) -> Iterator[Framed]:
    """Every whole record of a file's bytes, stopping at a torn tail.

    Bodies are not copied out; ``body_offset`` and ``end`` say where they are.
    """
    view = memoryview(data)
    offset = 0
    while offset + _FRAME.size <= len(data):
        length, crc = _FRAME.unpack_from(view, offset)
        start = offset + _FRAME.size
        end = start + length
        if length < _HEAD.size or length > MAX_FRAME or end > len(data):
            return
        payload = view[start:end]
        if zlib.crc32(payload) != crc:
            return

        framed = _parse(payload, offset, start, end)
        if framed is None:
            return
        yield framed
        offset = end


def _parse(payload: memoryview, offset: int, start: int, end: int) -> Framed | None:
    kind, head_length = _HEAD.unpack_from(payload)
    body_at = _HEAD.size + head_length
    try:
        header = json.loads(bytes(payload[_HEAD.size : body_at]))
    except ValueError:
        return None
    if not isinstance(header, dict):
        return None

    return Framed(Record(kind.decode(), header), offset, start + body_at, end)
