"""The registrar service: consumes ``status_events`` and applies it in batches.

A batch is up to ``settings.registrar_batch_size`` deliveries, or what arrived
within ``BATCH_WINDOW`` of its first one. It is applied in one transaction and
only then acknowledged, with one ``multiple`` ack on its last delivery tag. A
crash before the commit returns the whole batch to the queue; applying it
again changes nothing, because event ids are recorded with their effects.

An event PostgreSQL refuses is found by splitting the batch (``isolate``) and
dead-lettered with the database's reason; the rest of its batch is applied.
When PostgreSQL is unavailable instead, the whole batch goes back to the
queue and the registrar pauses before the next one.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from postline.bus import names
from postline.bus.dead import dead_letter
from postline.bus.events import StatusEvent, from_amqp
from postline.bus.topology import (
    connect,
    declare_events,
    declare_work_queue,
    open_channel,
)
from postline.errors import BusError, PayloadError, StoreError
from postline.registrar.isolate import apply_isolating
from postline.settings import Settings
from postline.store.db import make_engine
from postline.store.failures import translate

log = logging.getLogger(__name__)

# Seconds a batch waits for more deliveries after its first one.
BATCH_WINDOW = 0.2

# Seconds between checks of the stop signal while the queue is empty.
IDLE_POLL = 0.2

# Pause after a failed batch, in seconds: doubles up to the maximum.
RETRY_PAUSE = 0.5
RETRY_PAUSE_MAX = 30.0

_Inbox = asyncio.Queue[AbstractIncomingMessage]


async def serve_registrar(settings: Settings, stop: asyncio.Event) -> None:
    """Apply status events until ``stop`` is set, then finish the batch and return.

    Deliveries received but not yet in a batch go back to the queue when the
    channel closes.
    """
    engine = make_engine(settings.database_url)
    await _check_database(engine)
    connection = await connect(settings.amqp_url)
    try:
        channel = await open_channel(connection, prefetch=settings.registrar_batch_size)
        await declare_events(channel)
        queue = await declare_work_queue(channel, names.STATUS_EVENTS_QUEUE)
        inbox: _Inbox = asyncio.Queue()
        await queue.consume(inbox.put)
        log.info(
            "registrar started queue=%s batch_size=%d",
            queue.name,
            settings.registrar_batch_size,
        )
        await _run(channel, engine, inbox, settings.registrar_batch_size, stop)
    finally:
        await connection.close()
        await engine.dispose()
    log.info("registrar stopped")


async def _check_database(engine: AsyncEngine) -> None:
    """Fail at start, not silently in the first batch, if the database is missing.

    A server that goes away later is waited for: batches are requeued.
    """
    try:
        async with engine.connect() as conn:
            await conn.execute(text("select 1 from ledger limit 1"))
    except (SQLAlchemyError, OSError) as exc:
        await engine.dispose()
        raise translate(exc, "cannot use the database") from exc


async def _run(
    channel: AbstractChannel,
    engine: AsyncEngine,
    inbox: _Inbox,
    batch_size: int,
    stop: asyncio.Event,
) -> None:
    pause = RETRY_PAUSE
    while not stop.is_set():
        batch = await _collect(inbox, batch_size, stop)
        if not batch:
            continue

        if await _handle(channel, engine, batch):
            pause = RETRY_PAUSE
            continue

        # PostgreSQL or RabbitMQ failed: the batch is back in the queue.
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), pause)
        pause = min(pause * 2, RETRY_PAUSE_MAX)


async def _collect(
    inbox: _Inbox, size: int, stop: asyncio.Event
) -> list[AbstractIncomingMessage]:
    """The next batch: wait for one delivery, then up to the window for more."""
    first = await _next(inbox, stop)
    if first is None:
        return []

    batch = [first]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BATCH_WINDOW
    while len(batch) < size:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        try:
            batch.append(await asyncio.wait_for(inbox.get(), remaining))
        except TimeoutError:
            break
    return batch


async def _next(inbox: _Inbox, stop: asyncio.Event) -> AbstractIncomingMessage | None:
    while not stop.is_set():
        with suppress(TimeoutError):
            return await asyncio.wait_for(inbox.get(), IDLE_POLL)
    return None


async def _handle(
    channel: AbstractChannel,
    engine: AsyncEngine,
    batch: list[AbstractIncomingMessage],
) -> bool:
    """Apply one batch and ack it; False when it went back to the queue.

    Payloads that do not parse and events PostgreSQL refuses are dead-lettered
    (and so acked one by one); the rest is acked together after the commit.
    """
    try:
        parsed = await _parse(channel, batch)
        refused = await apply_isolating(engine, [event for _, event in parsed])
        for refusal in refused:
            await _dead_letter(channel, parsed[refusal.index][0], refusal.reason)
    except BusError as exc:
        log.error("batch not dead_lettered deliveries=%d error=%s", len(batch), exc)
        await _settle(batch, ack=False)
        return False
    except StoreError as exc:
        log.error("batch not applied deliveries=%d error=%s", len(batch), exc)
        await _settle(batch, ack=False)
        return False

    return await _settle(batch, ack=True)


async def _parse(
    channel: AbstractChannel, batch: list[AbstractIncomingMessage]
) -> list[tuple[AbstractIncomingMessage, StatusEvent]]:
    """The batch's events; payloads that cannot be parsed are dead-lettered."""
    parsed = []
    for message in batch:
        try:
            parsed.append((message, from_amqp(message.body)))
        except PayloadError as exc:
            await _dead_letter(channel, message, str(exc))
    return parsed


async def _dead_letter(
    channel: AbstractChannel, message: AbstractIncomingMessage, reason: str
) -> None:
    try:
        await dead_letter(channel, message, reason)
    except (AMQPError, ChannelInvalidStateError, ConnectionError) as exc:
        raise BusError(f"dead-lettering failed: {exc!r}") from exc


async def _settle(messages: list[AbstractIncomingMessage], *, ack: bool) -> bool:
    """Ack (or return to the queue) every delivery up to the last one at once.

    Earlier batches are settled already and a dead-lettered delivery was acked
    on its own, so ``multiple`` covers exactly this batch. A channel lost on
    the way needs nothing: the broker redelivers what was not acked.
    """
    pending = [message for message in messages if not message.processed]
    if not pending:
        return True

    last = pending[-1]
    try:
        if ack:
            await last.ack(multiple=True)
        else:
            await last.nack(multiple=True, requeue=True)
    except (AMQPError, ChannelInvalidStateError, ConnectionError) as exc:
        log.warning("batch not settled deliveries=%d error=%r", len(messages), exc)
        return False
    return True
