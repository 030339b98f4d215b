"""The registrar service through RabbitMQ: batches, dead letters, kill safety."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aio_pika
import asyncpg
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from conftest import settings_env
from postline.bus import names
from postline.bus.events import StatusEvent, from_amqp, to_amqp
from postline.bus.publisher import publish_many
from postline.bus.topology import connect, declare_events, open_channel
from postline.registrar.service import serve_registrar
from postline.settings import Settings
from postline.store.tables import ledger
from registrar.seed import Seed

POSTLINE = [str(Path(sys.executable).parent / "postline"), "registrar"]


async def publish(amqp_url: str, messages: list[tuple[aio_pika.Message, str]]) -> None:
    """Publish to the events exchange, declared first as every producer does."""
    connection = await connect(amqp_url)
    try:
        channel = await open_channel(connection)
        exchange = await declare_events(channel)
        await publish_many(exchange, messages)
    finally:
        await connection.close()


def delivered(msg_id: str) -> tuple[aio_pika.Message, str]:
    event = StatusEvent(message_id=msg_id, status="delivered", attempt=1)
    return to_amqp(event), event.routing_key


async def queue_depth(amqp_url: str, name: str) -> int:
    connection = await connect(amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        return queue.declaration_result.message_count or 0
    finally:
        await connection.close()


async def count_status(engine: AsyncEngine, launch_id: int, status: str) -> int:
    async with engine.connect() as conn:
        result = await conn.execute(
            select(func.count())
            .select_from(ledger)
            .where(ledger.c.launch_id == launch_id, ledger.c.status == status)
        )
        return int(result.scalar_one())


async def wait_until(check: Callable[[], Awaitable[bool]], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


@asynccontextmanager
async def registrar(settings: Settings) -> AsyncIterator[asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(serve_registrar(settings, stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_published_events_are_applied_in_batches_and_leave_the_queue(
    seed: Seed,
    engine: AsyncEngine,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = settings.model_copy(update={"registrar_batch_size": 10})
    messages = [await seed.member() for _ in range(45)]
    await publish(settings.amqp_url, [delivered(m) for m in messages])
    caplog.set_level(logging.INFO, logger="postline.registrar")

    async with registrar(settings):
        await wait_until(
            lambda: _equals(count_status(engine, seed.launch_id, "delivered"), 45)
        )

    sizes = [
        int(r.getMessage().split()[1].removeprefix("events="))
        for r in caplog.records
        if r.getMessage().startswith("batch events=")
    ]
    assert sum(sizes) == 45 and max(sizes) <= 10
    assert await queue_depth(settings.amqp_url, names.STATUS_EVENTS_QUEUE) == 0


async def test_a_bad_payload_is_dead_lettered_and_the_rest_of_its_batch_applied(
    seed: Seed, engine: AsyncEngine, settings: Settings
) -> None:
    first, second = await seed.member(), await seed.member()
    garbage = aio_pika.Message(body=b'{"status": "delivered"}', message_id="junk")
    await publish(
        settings.amqp_url,
        [delivered(first), (garbage, "status.email.delivered"), delivered(second)],
    )

    async with registrar(settings):
        await wait_until(
            lambda: _equals(count_status(engine, seed.launch_id, "delivered"), 2)
        )

    connection = await connect(settings.amqp_url)
    try:
        channel = await connection.channel()
        dead = await channel.get_queue(names.DEAD_LETTER_QUEUE)
        message = await dead.get(no_ack=True, timeout=5)
    finally:
        await connection.close()
    assert message.body == garbage.body
    reason = str(message.headers["x-postline-reason"])
    assert "message_id" in reason and "status event" in reason


def raw_event(payload: dict[str, object]) -> tuple[aio_pika.Message, str]:
    """A payload as any producer might send it, not built through the model."""
    message = aio_pika.Message(
        body=json.dumps(payload).encode(),
        message_id=f"raw-{payload['message_id']!s:.40}",
        content_type="application/json",
    )
    return message, "status.email.delivered"


async def dead_letters(amqp_url: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Every message waiting in the dead-letter queue, taken out of it."""
    connection = await connect(amqp_url)
    taken = []
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(names.DEAD_LETTER_QUEUE)
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            taken.append(message)
    finally:
        await connection.close()
    return taken


def lenient_about_replies(body: bytes) -> StatusEvent:
    """The registrar's decoder with the reply check missing: a validation gap."""
    payload = json.loads(body)
    reply = payload.pop("reply", None)
    return from_amqp(json.dumps(payload).encode()).model_copy(update={"reply": reply})


async def test_a_nul_in_a_reply_is_stored_as_a_replacement_character(
    seed: Seed, engine: AsyncEngine, settings: Settings
) -> None:
    msg = await seed.member()
    payload = {"message_id": msg, "status": "delivered", "attempt": 1}
    await publish(
        settings.amqp_url, [raw_event({**payload, "reply": "250 ok queued\x00as 1"})]
    )

    async with registrar(settings):
        await wait_until(
            lambda: _equals(count_status(engine, seed.launch_id, "delivered"), 1)
        )

    assert (await seed.row(msg))["reply"] == "250 ok queued\ufffdas 1"
    assert await dead_letters(settings.amqp_url) == []


async def test_an_event_failing_validation_is_dead_lettered_with_the_field_named(
    seed: Seed, engine: AsyncEngine, settings: Settings
) -> None:
    good = await seed.member()
    bad = {"message_id": "7.1.e\x00", "status": "delivered", "attempt": 1}
    await publish(settings.amqp_url, [raw_event(bad), delivered(good)])

    async with registrar(settings):
        await wait_until(
            lambda: _equals(count_status(engine, seed.launch_id, "delivered"), 1)
        )

    [dead] = await dead_letters(settings.amqp_url)
    assert json.loads(dead.body) == bad
    reason = str(dead.headers["x-postline-reason"])
    assert "message_id" in reason and "control character" in reason


async def test_an_event_postgresql_refuses_is_dead_lettered_and_the_rest_applied(
    seed: Seed,
    engine: AsyncEngine,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("postline.registrar.service.from_amqp", lenient_about_replies)
    settings = settings.model_copy(update={"registrar_batch_size": 50})
    before = [await seed.member() for _ in range(12)]
    poisoned = await seed.member()
    poison = {"message_id": poisoned, "status": "delivered", "attempt": 1}
    poison["reply"] = "250 ok queued\x00as 1"
    await publish(
        settings.amqp_url,
        [delivered(m) for m in before[:6]]
        + [raw_event(poison)]
        + [delivered(m) for m in before[6:]],
    )
    caplog.set_level(logging.INFO, logger="postline.registrar")

    async with registrar(settings) as task:
        await wait_until(
            lambda: _equals(count_status(engine, seed.launch_id, "delivered"), 12)
        )
        after = await seed.member()
        await publish(settings.amqp_url, [delivered(after)])
        await wait_until(
            lambda: _equals(count_status(engine, seed.launch_id, "delivered"), 13)
        )
        assert not task.done()

    [dead] = await dead_letters(settings.amqp_url)
    assert json.loads(dead.body) == poison
    reason = str(dead.headers["x-postline-reason"])
    assert reason.startswith("refused by PostgreSQL: ") and "0x00" in reason
    assert (await seed.row(poisoned))["status"] == "queued"
    assert await queue_depth(settings.amqp_url, names.STATUS_EVENTS_QUEUE) == 0
    assert not await _logged(caplog, "batch not applied")


@asynccontextmanager
async def broken_database(settings: Settings) -> AsyncIterator[Settings]:
    """Settings pointing at a scratch database holding only a ``ledger`` table."""
    name = f"postline_broken_{uuid.uuid4().hex[:8]}"
    admin = settings.database_url.rpartition("/")[0].replace("+asyncpg", "")
    conn = await asyncpg.connect(f"{admin}/postgres")
    await conn.execute(f'CREATE DATABASE "{name}"')
    scratch = await asyncpg.connect(f"{admin}/{name}")
    await scratch.execute("CREATE TABLE ledger (message_id text)")
    await scratch.close()
    try:
        yield settings.model_copy(
            update={
                "database_url": settings.database_url.rpartition("/")[0] + f"/{name}"
            }
        )
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def test_a_batch_whose_commit_fails_stays_in_the_queue_until_applied(
    seed: Seed,
    engine: AsyncEngine,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    messages = [await seed.member() for _ in range(5)]
    await publish(settings.amqp_url, [delivered(m) for m in messages])
    # A database the registrar can open but not write its batches to: it has
    # a ledger table and nothing else, so every batch fails before commit.
    async with broken_database(settings) as broken, registrar(broken):
        await wait_until(lambda: _logged(caplog, "batch not applied"))

    await wait_until(
        lambda: _equals(queue_depth(settings.amqp_url, names.STATUS_EVENTS_QUEUE), 5)
    )
    assert await count_status(engine, seed.launch_id, "queued") == 5

    async with registrar(settings):
        await wait_until(
            lambda: _equals(count_status(engine, seed.launch_id, "delivered"), 5)
        )
    assert await queue_depth(settings.amqp_url, names.STATUS_EVENTS_QUEUE) == 0


async def test_the_registrar_command_applies_events_and_stops_on_sigterm(
    seed: Seed, engine: AsyncEngine, settings: Settings
) -> None:
    messages = [await seed.member() for _ in range(3)]
    await publish(settings.amqp_url, [delivered(m) for m in messages])

    process = await asyncio.create_subprocess_exec(
        *POSTLINE,
        env=settings_env(settings),
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await wait_until(lambda: _applied_by(process, engine, seed.launch_id, 3), 30)
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert process.returncode == 0
    assert b"batch events=3 applied=3" in stderr


async def _equals(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def _applied_by(
    process: asyncio.subprocess.Process, engine: AsyncEngine, launch_id: int, count: int
) -> bool:
    assert process.returncode is None, "the registrar exited on its own"
    return await count_status(engine, launch_id, "delivered") == count


async def _logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(text in record.getMessage() for record in caplog.records)
