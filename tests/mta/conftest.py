"""Fixtures for MTA tests that use RabbitMQ: a sink, a sender, an event tap."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import aio_pika
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from conftest import unique
from postline.bus import mail
from postline.bus.events import StatusEvent, from_amqp
from postline.bus.mail import OutboundEmail
from postline.bus.publisher import publish_many
from postline.bus.topology import connect, declare_events, declare_work_queue
from postline.devtools.sink import SmtpSink
from postline.mta.service import serve_mta
from postline.senders import Sender, SenderConfig, apply_senders, get_sender
from postline.settings import Settings


@pytest.fixture
async def sink() -> AsyncIterator[SmtpSink]:
    server = SmtpSink()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def mta_settings(settings: Settings, sink: SmtpSink) -> Settings:
    """The test's settings with every domain routed to the sink."""
    return settings.model_copy(
        update={
            "smtp_routes": {"*": f"127.0.0.1:{sink.port}"},
            "smtp_connect_timeout": 2.0,
            "smtp_command_timeout": 10.0,
        }
    )


async def make_sender(engine: AsyncEngine, **overrides: int) -> Sender:
    """A built-in sender with a fast strategy and a short retry rule."""
    values = {
        "strategy_messages": 100000,
        "strategy_interval": 1,
        "connections": 2,
        "retry_attempts": 1,
        "retry_interval": 1,
    } | overrides
    config = SenderConfig(
        name=unique("mta"),
        from_email="news@example.test",
        bounce_domain="bounce.example.test",
        **values,  # type: ignore[arg-type]
    )
    [sender_id] = await apply_senders(engine, [config])
    return await get_sender(engine, sender_id)


class EventTap:
    """A queue bound to every status event, read into ``events``."""

    def __init__(self) -> None:
        self.events: list[StatusEvent] = []
        self._changed = asyncio.Event()

    def on_message(self, body: bytes) -> None:
        self.events.append(from_amqp(body))
        self._changed.set()

    async def until(
        self, done: Callable[[list[StatusEvent]], bool], within: float = 20.0
    ) -> list[StatusEvent]:
        async with asyncio.timeout(within):
            while not done(self.events):
                self._changed.clear()
                await self._changed.wait()
        return self.events

    def of(self, message_id: str) -> list[StatusEvent]:
        """The message's events, each once: a republished event repeats its id."""
        unique = {e.event_id: e for e in self.events if e.message_id == message_id}
        return list(unique.values())

    def statuses(self, message_id: str) -> list[tuple[str, str | None, int]]:
        return [(e.status, e.reason, e.attempt) for e in self.of(message_id)]


@pytest.fixture
async def tap(amqp_url: str) -> AsyncIterator[EventTap]:
    connection = await connect(amqp_url)
    channel = await connection.channel()
    exchange = await declare_events(channel)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key="status.#")
    listener = EventTap()

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        listener.on_message(message.body)
        await message.ack()

    await queue.consume(on_message)
    yield listener
    await connection.close()


async def publish(amqp_url: str, queue: str, emails: list[OutboundEmail]) -> None:
    """Publish built emails to an MTA queue, confirmed."""
    connection = await connect(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        await declare_work_queue(channel, queue)
        await publish_many(
            channel.default_exchange, [(mail.to_amqp(e), queue) for e in emails]
        )
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def running(settings: Settings, sender: Sender) -> AsyncIterator[None]:
    """``serve_mta`` in this event loop for the block, then a clean stop."""
    stop = asyncio.Event()
    task = asyncio.create_task(serve_mta(settings, stop, sender_ids=[sender.id]))
    try:
        yield
    finally:
        stop.set()
        await task
