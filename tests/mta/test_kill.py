"""The MTA killed with SIGKILL mid-drain, then restarted, sends each message once.

The sink runs in its own process and records every message it accepted, before
answering 250, so what it recorded is exactly what was delivered.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from conftest import settings_env
from mta.conftest import EventTap, make_sender, publish
from mta.helpers import email, eventually
from postline.bus import names
from postline.settings import Settings

POSTLINE = str(Path(sys.executable).parent / "postline")
BACKLOG = 2000
KILL_AFTER = 300


def _received(record: Path) -> Counter[str]:
    """Message ids in the sink's record, counting only whole lines."""
    if not record.exists():
        return Counter()
    text = record.read_text()
    whole = text[: text.rfind("\n") + 1]
    return Counter(json.loads(line)["message_id"] for line in whole.splitlines())


async def _start_sink(
    record: Path, env: dict[str, str]
) -> tuple[asyncio.subprocess.Process, int]:
    process = await asyncio.create_subprocess_exec(
        POSTLINE,
        "devtools",
        "smtp-sink",
        "--port",
        "0",
        "--record",
        str(record),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 30)
    return process, int(line.decode().rsplit(":", 1)[1])


async def _start_mta(
    sender_id: int, env: dict[str, str], log: Path
) -> asyncio.subprocess.Process:
    with log.open("ab") as stderr:
        return await asyncio.create_subprocess_exec(
            POSTLINE,
            "mta",
            "--sender",
            str(sender_id),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def _delivered_events(tap: EventTap) -> set[str]:
    return {e.message_id for e in tap.events if e.status == "delivered"}


async def test_a_killed_mta_restarted_delivers_every_message_exactly_once(
    engine: AsyncEngine, settings: Settings, tap: EventTap, tmp_path: Path
) -> None:
    sender = await make_sender(engine, connections=4)
    record, log = tmp_path / "sink.jsonl", tmp_path / "mta.log"
    sink, port = await _start_sink(record, settings_env(settings))
    processes = [sink]
    settings = settings.model_copy(update={"smtp_routes": {"*": f"127.0.0.1:{port}"}})
    env = settings_env(settings)
    emails = [email(n, sender_id=sender.id, launch=9) for n in range(1, BACKLOG + 1)]
    expected = {e.message_id for e in emails}
    await publish(settings.amqp_url, names.mta_queue(sender.id), emails)

    try:
        first = await _start_mta(sender.id, env, log)
        processes.append(first)
        await eventually(
            lambda: sum(_received(record).values()) >= KILL_AFTER, 60, "sends"
        )
        first.send_signal(signal.SIGKILL)
        await first.wait()
        at_kill = sum(_received(record).values())

        second = await _start_mta(sender.id, env, log)
        processes.append(second)
        await eventually(lambda: set(_received(record)) >= expected, 90, "the drain")
        await eventually(lambda: _delivered_events(tap) >= expected, 30, "the events")
        second.send_signal(signal.SIGTERM)
        stopped = await asyncio.wait_for(second.wait(), 60)
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()

    received = _received(record)
    twice = sorted(m for m, count in received.items() if count > 1)
    unknown = {e.message_id for e in tap.events if e.decision == "unknown"}
    print(f"kill: at_kill={at_kill} unknown_outcomes={len(unknown)} twice={len(twice)}")
    assert first.returncode == -signal.SIGKILL
    assert KILL_AFTER <= at_kill < BACKLOG
    assert set(received) == expected
    assert twice == []
    assert stopped == 0
