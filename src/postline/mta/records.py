"""The records of the spool journal and their CRC-framed encoding.

A frame is ``length (4 bytes) | crc32 (4 bytes) | payload``, big-endian; the
payload is ``kind (1 byte) | header length (4 bytes) | JSON header | body``.
Reading stops at the first frame that fails its checks (length, CRC, header).
``damage_after`` then says what the rest is: a possible torn tail (a write cut
short by a crash: the frame runs past the end of the file, or the rest is zero
bytes, or the frame ends the file with every byte after its length still zero;
and no whole frame follows) or damage (anything else, such as a flipped byte
with records after it, or in a last frame that is whole). Which of the two may
be ignored is the journal's call.

Kinds:

    A  add       a spooled message with its state (attempt, due, sending) and body
    S  sending   the final dot of an attempt is about to be sent
    O  outcome   an attempt's result: deferred (with the next due time) or final
    E  event     a status event not yet confirmed by RabbitMQ, restated
    P  published status events RabbitMQ confirmed, by event id
"""

from __future__ import annotations

import json
import re
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
_LENGTH = 4  # bytes of the frame's length field, the start of _FRAME
_HEAD = struct.Struct(">cI")

# A frame longer than this is a torn length field, not a record.
MAX_FRAME = 256 * 1024 * 1024

# Where a frame may start: a length up to MAX_FRAME, any CRC, a known kind, a
# header length under 16 MiB and a JSON object. Only a hint for the search
# for whole frames after a failure; each hit is checked in full.
_FRAME_HINT = re.compile(
    rb"(?=[\x00-\x10][\x00-\xff]{7}["
    + re.escape((ADD + SENDING + OUTCOME + EVENT + PUBLISHED).encode())
    + rb"]\x00[\x00-\xff]{3}\{)"
)


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


@dataclass(frozen=True, slots=True)
class Damage:
    """Bytes from ``offset`` to the end of a file that are no whole record.

    ``torn`` when they can be a write cut short by a crash.
    """

    offset: int
    length: int
    reason: str
    torn: bool


def decode_all(data: bytes) -> Iterator[Framed]:
    """Every whole record of a file's bytes, up to the first that fails.

    Bodies are not copied out; ``body_offset`` and ``end`` say where they are.
    """
    view = memoryview(data)
    offset = 0
    while offset < len(data):
        end = _checked_end(view, offset)
        if end is None:
            return
        framed = _parse(view[offset + _FRAME.size : end], offset, end)
        if framed is None:
            return
        yield framed
        offset = end


def intact_length(data: bytes) -> int:
    """How many leading bytes are whole frames, by length and CRC alone."""
    view = memoryview(data)
    offset = 0
    while (end := _checked_end(view, offset)) is not None:
        offset = end
    return offset


def damage_after(data: bytes, offset: int) -> Damage | None:
    """What follows the last whole record, which ends at ``offset``; None when
    nothing does.
    """
    length = len(data) - offset
    if length <= 0:
        return None

    view = memoryview(data)
    reason, cut_short = _fault(view, offset)
    blank = data.count(0, offset) == length
    torn = (cut_short or blank) and not _whole_frame_after(view, offset + 1)
    return Damage(offset, length, reason, torn)


def _checked_end(view: memoryview, offset: int) -> int | None:
    """The end of the frame at ``offset`` if its length and CRC hold."""
    if len(view) - offset < _FRAME.size:
        return None
    length: int
    crc: int
    length, crc = _FRAME.unpack_from(view, offset)
    start = offset + _FRAME.size
    end = start + length
    if length < _HEAD.size or length > MAX_FRAME or end > len(view):
        return None
    if zlib.crc32(view[start:end]) != crc:
        return None
    return end


def _fault(view: memoryview, offset: int) -> tuple[str, bool]:
    """Why the frame at ``offset`` fails, and whether a write cut short can
    explain it.
    """
    if len(view) - offset < _FRAME.size:
        return "frame header cut short", True
    length, _ = _FRAME.unpack_from(view, offset)
    end = offset + _FRAME.size + length
    if length < _HEAD.size or length > MAX_FRAME:
        return f"impossible frame length {length}", False
    if end > len(view):
        return f"frame of {length} bytes runs past the end", True
    if _checked_end(view, offset) is None:
        # A whole frame that fails its checksum is damage, unless everything
        # after its length is still zero: a file extended by a write that a
        # power loss cut off before its bytes reached the disk.
        unwritten = _zeros(view[offset + _LENGTH : end])
        return "checksum mismatch", end == len(view) and unwritten
    return "unreadable record header", False


def _zeros(view: memoryview) -> bool:
    return view.tobytes().count(0) == len(view)


def _whole_frame_after(view: memoryview, start: int) -> bool:
    for hint in _FRAME_HINT.finditer(view, start):
        offset = hint.start()
        end = _checked_end(view, offset)
        if end is None:
            continue
        if _parse(view[offset + _FRAME.size : end], offset, end) is not None:
            return True
    return False


def _parse(payload: memoryview, offset: int, end: int) -> Framed | None:
    kind, head_length = _HEAD.unpack_from(payload)
    body_at = _HEAD.size + head_length
    if body_at > len(payload):
        return None
    try:
        header = json.loads(bytes(payload[_HEAD.size : body_at]))
    except ValueError:
        return None
    if not isinstance(header, dict):
        return None

    start = offset + _FRAME.size
    return Framed(Record(kind.decode(), header), offset, start + body_at, end)
