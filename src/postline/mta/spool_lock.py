"""The lock that keeps a sender's spool to one ``postline mta`` process.

Two processes appending to the same journal would interleave their records
and read bodies back at each other's offsets, and both would send every
message. So a spool is opened only under an exclusive ``flock`` on the file
``lock`` in its directory, held until the spool is closed. The kernel drops
the lock when the process ends, however it ends (SIGKILL included), so a
crashed MTA never leaves a stale lock behind. The holder writes its pid into
the file, for the message the next one gets.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from postline.errors import SpoolError

LOCK_NAME = "lock"


class SpoolLock:
    """An exclusive, non-blocking lock on ``directory``/``lock``."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock now, or raise SpoolError naming the holder's pid."""
        if self._fd is not None:
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise SpoolError(
                f"spool lock {self.path} cannot be opened: {exc.strerror or exc}"
            ) from exc

        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise SpoolError(
                f"spool {self.path.parent} is in use by another postline mta "
                f"(pid {holder})"
            ) from None
        except OSError as exc:
            os.close(fd)
            raise SpoolError(
                f"spool lock {self.path} cannot be taken: {exc.strerror or exc}"
            ) from exc

        _write_pid(fd)
        self._fd = fd

    def release(self) -> None:
        """Drop the lock; closing the file is what releases it."""
        if self._fd is None:
            return
        os.close(self._fd)
        self._fd = None


def _read_pid(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        text = ""
    return text or "unknown"


def _write_pid(fd: int) -> None:
    # Best effort: the pid only improves the message a second MTA gets.
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    except OSError:
        pass
