"""A run killed with SIGKILL mid-launch, then run again, sends every message once.

"Once" is after the MTA's dedupe by message id: the queue may hold a message
twice only if it belonged to the one batch whose ledger rows were written but
whose confirms had not been recorded when the process died.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from campaigns.data import Audience, drain, ledger_rows
from conftest import settings_env
from postline.campaigns import create_campaign
from postline.devtools.sink import SmtpSink
from postline.ids import message_id
from postline.mta.service import serve_mta
from postline.senders import SenderConfig, apply_senders
from postline.settings import Settings
from postline.store.tables import SubStatus, launches, ledger, subscriptions

POSTLINE = str(Path(sys.executable).parent / "postline")
AUDIENCE = 2400
BATCH = 100


async def _ledger_count(engine: AsyncEngine, campaign_id: int) -> int:
    async with engine.connect() as conn:
        query = select(func.count()).where(ledger.c.campaign_id == campaign_id)
        return int(await conn.scalar(query) or 0)


async def _kill_midway(
    engine: AsyncEngine, campaign_id: int, command: list[str], env: dict[str, str]
) -> int:
    """Start the run, SIGKILL it once part of the ledger exists; the row count."""
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    try:
        while (count := await _ledger_count(engine, campaign_id)) < AUDIENCE // 3:
            assert process.returncode is None, "the run ended before it was killed"
            assert time.monotonic() < deadline, "the run wrote no ledger rows"
            await asyncio.sleep(0.005)
        process.send_signal(signal.SIGKILL)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
    assert process.returncode == -signal.SIGKILL
    return count


async def _audience_with_leavers(
    engine: AsyncEngine, audience: Audience
) -> tuple[list[int], set[int]]:
    """The audience's profile ids, and the one in 37 who unsubscribed."""
    ids = await audience.add_many(AUDIENCE)
    unsubscribed = set(ids[::37])
    async with engine.begin() as conn:
        await conn.execute(
            update(subscriptions)
            .where(subscriptions.c.profile_id.in_(unsubscribed))
            .values(status=SubStatus.UNSUBSCRIBED)
        )
    return ids, unsubscribed


async def test_a_killed_run_run_again_gives_each_recipient_one_message_after_dedupe(
    settings: Settings, engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    ids, unsubscribed = await _audience_with_leavers(engine, audience)
    campaign_id = await create_campaign(engine, audience.campaign_file(tmp_path))
    command = [POSTLINE, "campaign", "run", str(campaign_id)]
    env = settings_env(settings) | {"POSTLINE_CAMPAIGN_BATCH_SIZE": str(BATCH)}

    rows_at_kill = await _kill_midway(engine, campaign_id, command, env)

    async with engine.connect() as conn:
        launch = (
            await conn.execute(
                select(launches).where(launches.c.campaign_id == campaign_id)
            )
        ).one()
    at_kill = await ledger_rows(engine, launch.id)
    in_flight = {
        message_id(launch.id, pid, "email")
        for pid, row in at_kill.items()
        if row["status"] == "queued" and pid > launch.published_through
    }
    assert launch.status == "running"
    assert 0 < rows_at_kill <= len(at_kill) < AUDIENCE
    assert len(in_flight) <= BATCH

    rerun = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, errors = await asyncio.wait_for(rerun.communicate(), timeout=120)

    assert rerun.returncode == 0, errors.decode()
    rows = await ledger_rows(engine, launch.id)
    eligible = {
        message_id(launch.id, pid, "email") for pid in ids if pid not in unsubscribed
    }
    assert {
        r["message_id"] for r in rows.values() if r["status"] == "queued"
    } == eligible
    assert {pid for pid, r in rows.items() if r["status"] == "skipped"} == unsubscribed
    assert len(rows) == AUDIENCE

    published = Counter(
        m.message_id
        for m in await drain(settings.amqp_url, f"akmta_{audience.sender.id}")
    )
    assert set(published) == eligible
    twice = {msg_id for msg_id, times in published.items() if times > 1}
    assert twice <= in_flight
    assert max(published.values()) <= 2


async def _wait_delivered(sink: SmtpSink, expected: set[str], queue_url: str) -> None:
    """Until the sink has every expected id and the MTA has taken every copy."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if set(sink.received) >= expected:
            return
        await asyncio.sleep(0.1)
    missing = len(expected - set(sink.received))
    raise AssertionError(f"{missing} messages never reached the sink ({queue_url})")


async def test_a_killed_run_run_again_delivers_each_recipient_exactly_once(
    settings: Settings, engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    ids, unsubscribed = await _audience_with_leavers(engine, audience)
    fast = audience.sender
    await apply_senders(
        engine,
        [
            SenderConfig(
                name=fast.name,
                from_email=fast.from_email,
                bounce_domain=fast.bounce_domain,
                strategy_messages=100_000,
                strategy_interval=1,
            )
        ],
    )
    campaign_id = await create_campaign(engine, audience.campaign_file(tmp_path))
    command = [POSTLINE, "campaign", "run", str(campaign_id)]
    env = settings_env(settings) | {"POSTLINE_CAMPAIGN_BATCH_SIZE": str(BATCH)}

    await _kill_midway(engine, campaign_id, command, env)
    rerun = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, errors = await asyncio.wait_for(rerun.communicate(), timeout=120)
    assert rerun.returncode == 0, errors.decode()

    sink = SmtpSink()
    await sink.start()
    routed = settings.model_copy(
        update={"smtp_routes": {"*": f"127.0.0.1:{sink.port}"}}
    )
    stop = asyncio.Event()
    mta = asyncio.create_task(serve_mta(routed, stop, sender_ids=[fast.id]))
    launch_id = await _launch_id(engine, campaign_id)
    eligible = {
        message_id(launch_id, pid, "email") for pid in ids if pid not in unsubscribed
    }
    try:
        await _wait_delivered(sink, eligible, settings.amqp_url)
    finally:
        stop.set()
        await mta
        await sink.stop()

    # Every copy the two runs published was taken and acked by the MTA...
    assert await drain(settings.amqp_url, f"akmta_{fast.id}") == []
    # ...and each eligible recipient got exactly one message, nobody else any.
    assert dict(sink.received) == dict.fromkeys(eligible, 1)


async def _launch_id(engine: AsyncEngine, campaign_id: int) -> int:
    async with engine.connect() as conn:
        query = select(launches.c.id).where(launches.c.campaign_id == campaign_id)
        return int((await conn.execute(query)).scalar_one())
