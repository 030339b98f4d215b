"""The spool's append-only journal: numbered segment files, fsynced in groups.

``append`` hands a record to the kernel with ``os.write`` at once, so it
survives the process being killed; ``durable`` waits for the fsync that covers
it, which only a power loss needs. One flusher task fsyncs whatever was
written, every ``flush_interval`` seconds while there are writes, or at once
when ``flush_records`` callers are waiting: many acks share one fsync.

Appends go to the newest segment; when it passes ``segment_bytes`` a new one
is started. Old segments stay readable (bodies are read back from them) until
the spool's compaction copies what is still live forward and deletes them.

Every start replays all segments, oldest first, and goes on appending to the
newest, so restarts add no segments. Only the newest segment can end in a torn
tail (a crash cut its last write short; nothing in it was acked): it is logged
and cut off before appends resume. Any other record that cannot be read is
damage: the journal refuses to open, naming the file and the byte offset, and
leaves the file as it is.
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
from postline.mta.records import (
    Damage,
    Framed,
    Record,
    damage_after,
    decode_all,
    encode,
    intact_length,
)

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
        """Every record of every segment, oldest first, with its segment.

        Raises SpoolError, with every file closed, when a segment cannot be
        opened or is damaged. When the iteration ends, appends go to the
        newest segment, or to a new one if it is full.
        """
        ensure_directory(self.directory)
        numbers = self._existing()
        try:
            for number in numbers:
                yield from self._replay_segment(number, newest=number == numbers[-1])
        except SpoolError:
            self._close_files()
            raise

        if numbers and self._segments[numbers[-1]].size < self.segment_bytes:
            self._current = numbers[-1]
        else:
            self._start_segment(max(numbers, default=0) + 1)

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
            self._cut_back(segment, offset)
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

    def verify(self, segment: int) -> None:
        """Raise SpoolError unless every byte of the segment is a whole
        record (blocking: reads the file).
        """
        path = self._path(segment)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SpoolError(f"spool segment {path} cannot be read: {exc}") from exc
        damage = damage_after(data, intact_length(data))
        if damage is not None:
            raise SpoolError(_damaged(path, damage))

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
        self._close_files()

    def _close_files(self) -> None:
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

    def _replay_segment(
        self, number: int, *, newest: bool
    ) -> Iterator[tuple[int, Framed]]:
        path = self._path(number)
        fd = _open_segment(path)
        data = _read_all(fd)
        self._segments[number] = _Segment(fd, len(data))

        end = 0
        for framed in decode_all(data):
            end = framed.end
            yield number, framed

        damage = damage_after(data, end)
        if damage is None:
            return
        if not (damage.torn and newest):
            raise SpoolError(
                f"{_damaged(path, damage)}; refusing to open the spool. To start "
                f"without it, move the file out of {self.directory} (the messages "
                "it holds will not be sent)"
            )

        # A crash cut the last write short; it was never acked or confirmed.
        log.warning(
            "spool_torn_tail segment=%s offset=%d ignored_bytes=%d reason=%r",
            path,
            damage.offset,
            damage.length,
            damage.reason,
        )
        try:
            os.ftruncate(fd, end)
        except OSError as exc:
            raise SpoolError(
                f"spool segment {path}: cannot cut off its torn tail: {exc}"
            ) from exc
        self._segments[number].size = end

    def _cut_back(self, segment: _Segment, size: int) -> None:
        """Truncate the segment being appended to back to ``size`` bytes after
        a failed write, so the next record follows the last whole one; if that
        fails too, move appends to a new segment.
        """
        try:
            os.ftruncate(segment.fd, size)
        except OSError as exc:
            log.error(
                "spool_truncate_failed directory=%s error=%r", self.directory, exc
            )
            segment.size = os.fstat(segment.fd).st_size
            self._start_segment(self._current + 1)
            return
        segment.size = size

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


def ensure_directory(directory: Path) -> None:
    """Create the directory if needed; SpoolError naming what is in the way."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next(
            (p for p in (directory, *directory.parents) if p.exists()), directory
        )
        reason = (
            f"{blocker} is not a directory"
            if blocker.exists() and not blocker.is_dir()
            else exc.strerror or str(exc)
        )
        raise SpoolError(
            f"spool directory {directory} cannot be created: {reason}"
        ) from exc


def _open_segment(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_APPEND)
    except IsADirectoryError as exc:
        raise SpoolError(
            f"spool segment {path} is a directory, not a journal file; "
            "move it out of the spool directory"
        ) from exc
    except OSError as exc:
        raise SpoolError(
            f"spool segment {path} cannot be opened: {exc.strerror or exc}"
        ) from exc


def _damaged(path: Path, damage: Damage) -> str:
    return (
        f"spool segment {path} is damaged at byte {damage.offset} "
        f"({damage.reason}; {damage.length} bytes from there cannot be read)"
    )


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
