"""Ids of finished messages, so a message published again is not sent again.

A tombstone is kept ``retention`` seconds after its message finished (the
sender's lifetime plus a day). Lookups are in memory. While the journal
segment holding a message's final outcome exists, that record is the durable
copy; when compaction deletes the segment, its tombstones are archived to a
file per finishing day (``done-<day>.ids``), and a day file is deleted whole
once everything in it is past retention.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from pathlib import Path

from postline.errors import SpoolError

log = logging.getLogger(__name__)

_DAY = 86400.0
_PREFIX = "done-"
_SUFFIX = ".ids"


class Tombstones:
    """Finished message ids with the time (epoch seconds) they finished."""

    def __init__(self, directory: Path, retention: float) -> None:
        self.directory = directory
        self.retention = retention
        self._finished: dict[str, float] = {}

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._finished

    def __len__(self) -> int:
        return len(self._finished)

    def add(self, message_id: str, finished_at: float) -> None:
        self._finished[message_id] = finished_at

    def load(self, now: float) -> None:
        """Read the day files still within retention; delete the others.

        Raises SpoolError naming a day file that cannot be read or deleted.
        """
        for day, path in self._day_files():
            try:
                self._load_day(day, path, now)
            except OSError as exc:
                raise SpoolError(
                    f"spool tombstone file {path} cannot be used: {exc.strerror or exc}"
                ) from exc

    def _load_day(self, day: int, path: Path, now: float) -> None:
        if self._expired(day, now):
            path.unlink()
            return
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            message_id, _, at = line.partition("\t")
            # A line cut short by a crash has no time; its segment still exists.
            if message_id and _is_number(at):
                self._finished.setdefault(message_id, float(at))

    def archive(self, items: list[tuple[str, float]], now: float) -> None:
        """Append tombstones to their day files and fsync them (blocking I/O)."""
        by_day: dict[int, list[str]] = defaultdict(list)
        for message_id, at in items:
            if at + self.retention > now:
                by_day[int(at // _DAY)].append(f"{message_id}\t{at}\n")

        for day, lines in by_day.items():
            fd = os.open(self._path(day), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, "".join(lines).encode())
                os.fsync(fd)
            finally:
                os.close(fd)

    def prune(self, now: float) -> int:
        """Forget tombstones past retention and delete expired day files."""
        expired = [m for m, at in self._finished.items() if at + self.retention <= now]
        for message_id in expired:
            del self._finished[message_id]

        for day, path in self._day_files():
            if self._expired(day, now):
                path.unlink()
        return len(expired)

    def _expired(self, day: int, now: float) -> bool:
        return (day + 1) * _DAY + self.retention <= now

    def _day_files(self) -> list[tuple[int, Path]]:
        files = []
        for path in self.directory.glob(f"{_PREFIX}*{_SUFFIX}"):
            stem = path.name.removeprefix(_PREFIX).removesuffix(_SUFFIX)
            if stem.isdigit():
                files.append((int(stem), path))
        return sorted(files)

    def _path(self, day: int) -> Path:
        return self.directory / f"{_PREFIX}{day}{_SUFFIX}"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
