"""Drain a filled spool through the MTA into the SMTP sink, and time it.

Usage::

    .venv/bin/python bench/mta_drain.py [--messages 20000] [--size 20000]
        [--connections 4] [--spool DIR]

The spool is filled directly with ``Spool.add`` (no RabbitMQ), then one
sender's MTA (``SenderMta``) sends it under a strategy that does not limit,
to ``postline devtools smtp-sink`` running as a separate process on loopback.
Status events are counted in memory instead of being published. Prints the
fill rate, the drain rate and the sink's count.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from postline.bus.events import StatusEvent
from postline.bus.mail import OutboundEmail
from postline.ids import message_id, verp_address
from postline.mta.sender import SenderMta
from postline.senders import Sender
from postline.settings import load_settings

# Per node, sustained (the MTA reference's starting target).
TARGET = 300

POSTLINE = str(Path(sys.executable).parent / "postline")


def _body(size: int, n: int) -> bytes:
    head = f"Subject: benchmark {n}\r\nMessage-ID: <{n}@bench.test>\r\n\r\n"
    line = b"x" * 76 + b"\r\n"
    return head.encode() + line * max(1, size // len(line))


def _email(n: int, size: int) -> OutboundEmail:
    mid = message_id(1, n, "email")
    return OutboundEmail(
        message_id=mid,
        mail_from=verp_address(mid, "bounce.bench.test"),
        rcpt_to=f"user{n}@bench.test",
        sender_id=1,
        campaign_id=1,
        launch_id=1,
        profile_id=n,
        queued_at=datetime.now(UTC),
        body=_body(size, n),
    )


async def _sink_process() -> tuple[asyncio.subprocess.Process, int]:
    process = await asyncio.create_subprocess_exec(
        POSTLINE,
        "devtools",
        "smtp-sink",
        "--port",
        "0",
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    line = await process.stdout.readline()
    return process, int(line.decode().rsplit(":", 1)[1])


async def run(messages: int, size: int, connections: int, spool: Path) -> None:
    sink, port = await _sink_process()
    settings = load_settings(
        spool_dir=spool, smtp_routes={"*": f"127.0.0.1:{port}"}, log_level="WARNING"
    )
    sender = Sender(1, "bench", "mta", "b@bench.test", None, "bounce.bench.test",
                    1_000_000, 1, connections, 0, 60, 86400)  # fmt: skip
    finished = 0
    done = asyncio.Event()

    async def count(batch: list[StatusEvent]) -> None:
        nonlocal finished
        finished += len(batch)
        if finished >= messages:
            done.set()

    mta = SenderMta(sender, settings, count)
    started = time.monotonic()
    mta.spool.open()
    for n in range(messages):
        mta.spool.add(_email(n, size))
    mta.spool.close()
    filled = time.monotonic() - started

    mta = SenderMta(sender, settings, count)
    started = time.monotonic()
    await mta.start()
    await done.wait()
    drained = time.monotonic() - started
    await mta.stop()
    sink.terminate()
    await sink.wait()

    rate = messages / drained
    print(
        f"mta spool->sink: messages={messages} size={size}B "
        f"connections={connections} drain_seconds={drained:.2f}"
    )
    print(f"  rate={rate:.0f} msg/s  fill={messages / filled:.0f} msg/s")
    print(f"  ratio to target {TARGET} msg/s: {rate / TARGET:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--size", type=int, default=20000, help="body bytes")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--spool", type=Path, help="default: a temporary directory")
    args = parser.parse_args()

    spool = args.spool or Path(tempfile.mkdtemp(prefix="postline-bench-"))
    try:
        asyncio.run(run(args.messages, args.size, args.connections, spool))
    finally:
        if args.spool is None:
            shutil.rmtree(spool, ignore_errors=True)


if __name__ == "__main__":
    main()
