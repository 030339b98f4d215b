"""The spool's append-only journal: numbered segment files, fsynced in groups.

``append`` hands a record to the kernel with ``os.write`` at once, so it
survives the process being killed; ``durable`` waits for the fsync that covers
it, which only a power loss needs. One flusher task fsyncs whatever was
written, every ``flush_interval`` seconds while there are writes, or at once
when ``flush_records`` callers are waiting: many acks share one fsync.

Appends go to the newest segment; when it passes ``segment_bytes`` a new one
is started. Old segments stay readable (bodies are read back from them) until
the spool's compaction copies what is still live forward and deletes them.
Every start replays all segments, oldest first, then opens a fresh segment, so
a torn tail left by a crash is never appended to.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from postline.errors import SpoolError
from postline.mta.records import Framed, Record, decode_all, encode

log = logging.getLogger(__name__)

SEGMENT_BYTES = 32 * 1024 * 1024
_SUFFIX = ".journal"


@dataclass(frozen=True, slots=True)
class Position:
    """Where an appended record went: its sequence number and its body's place."""

    lsn: int
    segment: int
    body_offset: int


@dataclass(slots=True)
class _Segment:
    fd: int
    size: int


class Journal:
    """Segment files under ``directory`` and the group-commit flusher.

    ``flush_interval`` is in seconds (default 4 ms).
    """

    def __init__(
        self,
        directory: Path,
        *,
        segment_bytes: int = SEGMENT_BYTES,
        flush_interval: float = 0.004,
        flush_records: int = 256,
    ) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self._flush_interval = flush_interval
        self._flush_records = flush_records
        self._segments: dict[int, _Segment] = {}
        self._current = 0
        self._lsn = 0
        self._durable = 0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._unsynced: set[int] = set()
        self._dir_dirty = False
        self._dirty = asyncio.Event()

    @property
    def current(self) -> int:
        """Number of the segment appends go to."""
        return self._current

    def replay(self) -> Iterator[tuple[int, Framed]]:
        """Every whole record of every segment, oldest first, with its segment.

        When the iteration ends, a fresh segment is opened for appends.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        for number in self._existing():
            yield from self._replay_segment(number)
        self._start_segment(max(self._segments, default=0) + 1)

    def append(self, record: Record) -> Position:
        """Write one record now (no await); fsync comes later, in a group."""
        frame, body_at = encode(record)
        segment = self._segments.get(self._current)
        if segment is None:
            raise SpoolError(f"spool {self.directory} is closed")
        offset = segment.size
        try:
            _write_all(segment.fd, frame)
        except SpoolError:
            # A half-written frame ends what replay reads of this segment, so
            # later records must not follow it there.
            segment.size = os.fstat(segment.fd).st_size
            self._start_segment(self._current + 1)
            raise
        segment.size += len(frame)

        self._lsn += 1
        self._unsynced.add(self._current)
        self._dirty.set()
        position = Position(self._lsn, self._current, offset + body_at)

        if segment.size >= self.segment_bytes:
            self._start_segment(self._current + 1)
        return position

    async def durable(self, lsn: int) -> None:
        """Return once the record numbered ``lsn`` is on disk."""
        if lsn <= self._durable:
            return
        future = asyncio.get_running_loop().create_future()
        self._waiters.append((lsn, future))
        self._dirty.set()
        await future

    def is_durable(self, lsn: int) -> bool:
        return lsn <= self._durable

    async def run_flusher(self) -> None:
        """Fsync in groups until cancelled."""
        while True:
            await self._dirty.wait()
            if len(self._waiters) < self._flush_records:
                await asyncio.sleep(self._flush_interval)
            self._dirty.clear()
            await self._flush()

    def read_body(self, segment: int, offset: int, length: int) -> bytes:
        """The bytes of a spooled body, read back from its segment."""
        try:
            data = os.pread(self._segments[segment].fd, length, offset)
        except (KeyError, OSError) as exc:
            raise SpoolError(f"spool segment {segment}: cannot read: {exc}") from exc
        if len(data) != length:
            raise SpoolError(f"spool segment {segment}: body cut short at {offset}")
        return data

    def segments(self) -> list[int]:
        """Numbers of the segments on disk, oldest first."""
        return sorted(self._segments)

    def size(self, segment: int) -> int:
        return self._segments[segment].size

    def delete(self, segment: int) -> None:
        """Remove a segment whose live records were copied forward."""
        if segment == self._current:
            raise SpoolError("spool: the segment being appended to cannot be deleted")
        entry = self._segments.pop(segment)
        self._unsynced.discard(segment)
        os.close(entry.fd)
        self._path(segment).unlink()
        self._dir_dirty = True

    def close(self) -> None:
        """Fsync everything written and close the files."""
        _fsync_all([s.fd for s in self._segments.values()], self.directory)
        self._durable = self._lsn
        self._release_waiters()
        for segment in self._segments.values():
            os.close(segment.fd)
        self._segments.clear()

    async def _flush(self) -> None:
        target = self._lsn
        fds = [self._segments[n].fd for n in self._unsynced if n in self._segments]
        directory = self.directory if self._dir_dirty else None
        self._unsynced.clear()
        self._dir_dirty = False

        try:
            await asyncio.to_thread(_fsync_all, fds, directory)
        except OSError as exc:
            log.error("spool_fsync_failed directory=%s error=%r", self.directory, exc)
            self._fail_waiters(SpoolError(f"spool fsync failed: {exc}"))
            return

        self._durable = target
        self._release_waiters()

    def _release_waiters(self) -> None:
        while self._waiters and self._waiters[0][0] <= self._durable:
            _, future = self._waiters.popleft()
            if not future.done():
                future.set_result(None)

    def _fail_waiters(self, error: SpoolError) -> None:
        while self._waiters:
            _, future = self._waiters.popleft()
            if not future.done():
                future.set_exception(error)

    def _existing(self) -> list[int]:
        numbers = []
        for path in self.directory.glob(f"*{_SUFFIX}"):
            stem = path.name.removesuffix(_SUFFIX)
            if stem.isdigit():
                numbers.append(int(stem))
        return sorted(numbers)

    def _replay_segment(self, number: int) -> Iterator[tuple[int, Framed]]:
        path = self._path(number)
        fd = os.open(path, os.O_RDWR | os.O_APPEND)
        data = _read_all(fd)
        self._segments[number] = _Segment(fd, len(data))

        end = 0
        for framed in decode_all(data):
            end = framed.end
            yield number, framed

        if end < len(data):
            # A crash cut the last write short; it was never acked or confirmed.
            log.warning(
                "spool_torn_tail segment=%s ignored_bytes=%d", path, len(data) - end
            )

    def _start_segment(self, number: int) -> None:
        path = self._path(number)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        except OSError as exc:
            raise SpoolError(f"spool: cannot create {path}: {exc}") from exc
        self._segments[number] = _Segment(fd, 0)
        self._current = number
        self._dir_dirty = True

    def _path(self, number: int) -> Path:
        return self.directory / f"{number:08d}{_SUFFIX}"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    try:
        while view:
            written = os.write(fd, view)
            view = view[written:]
    except OSError as exc:
        raise SpoolError(f"spool write failed: {exc}") from exc


def _read_all(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    return os.pread(fd, size, 0)


def _fsync_all(fds: list[int], directory: Path | None) -> None:
    for fd in fds:
        os.fsync(fd)
    if directory is not None:
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
