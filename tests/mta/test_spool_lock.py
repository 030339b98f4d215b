"""One spool, one process: a second opener is refused until the holder is gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from postline.errors import SpoolError
from postline.mta.journal import SEGMENT_BYTES
from postline.mta.spool import Spool

DAY = 86400.0

# A process that opens the spool given as argv[1], says so, and waits.
HOLDER = """
import sys
from pathlib import Path
from postline.mta.spool import Spool

spool = Spool(Path(sys.argv[1]), retention=86400.0)
spool.open()
print("open", flush=True)
sys.stdin.read()
"""


def _spool(directory: Path) -> Spool:
    return Spool(directory, retention=2 * DAY)


def test_a_spool_open_elsewhere_in_the_process_is_refused_with_the_pid(
    tmp_path: Path,
) -> None:
    first = _spool(tmp_path)
    first.open()

    with pytest.raises(SpoolError) as refused:
        _spool(tmp_path).open()
    first.close()

    assert str(refused.value) == (
        f"spool {tmp_path} is in use by another postline mta (pid {os.getpid()})"
    )


def test_a_closed_spool_can_be_opened_again(tmp_path: Path) -> None:
    first = _spool(tmp_path)
    first.open()
    first.close()

    second = _spool(tmp_path)
    second.open()
    second.close()

    assert not second.lock.held


def test_a_spool_held_by_a_killed_process_opens_once_it_is_dead(
    tmp_path: Path,
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(SpoolError, match=rf"\(pid {holder.pid}\)"):
            _spool(tmp_path).open()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)

    spool = _spool(tmp_path)
    spool.open()
    spool.close()


def test_a_spool_that_fails_to_open_lets_go_of_its_lock(tmp_path: Path) -> None:
    # Newest segment is ``2``: a damaged older ``1`` makes the open fail.
    (tmp_path / f"{1:08d}.journal").write_bytes(b"\x00" * 64)
    (tmp_path / f"{2:08d}.journal").write_bytes(b"")
    failing = Spool(tmp_path, retention=2 * DAY, segment_bytes=SEGMENT_BYTES)

    with pytest.raises(SpoolError):
        failing.open()

    assert not failing.lock.held
