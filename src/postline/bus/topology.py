"""Connection and declaration of every exchange and queue Postline uses.

Declaring is idempotent, so each process declares what it touches at start
and no process depends on another having run first.
"""

from __future__ import annotations

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractQueue,
    AbstractRobustConnection,
)
from aiormq.exceptions import AMQPError
from pamqp.common import FieldTable

from postline.bus import names
from postline.errors import BusError

_DEAD_LETTER_ARGS: FieldTable = {"x-dead-letter-exchange": names.DEAD_LETTER_EXCHANGE}


async def connect(amqp_url: str) -> AbstractRobustConnection:
    """Open a connection that reconnects and restores its channels by itself."""
    try:
        return await aio_pika.connect_robust(amqp_url)
    except (AMQPError, OSError) as exc:
        raise BusError(
            f"cannot connect to RabbitMQ at {_redact(amqp_url)}: {exc}"
        ) from exc


async def open_channel(
    connection: AbstractRobustConnection, prefetch: int = 0
) -> AbstractChannel:
    """A channel with publisher confirms on, and the given consumer prefetch."""
    channel = await connection.channel(publisher_confirms=True)
    if prefetch:
        await channel.set_qos(prefetch_count=prefetch)
    await declare_dead_letters(channel)
    return channel


async def declare_dead_letters(channel: AbstractChannel) -> AbstractQueue:
    """The queue where payloads that cannot be parsed wait for an operator."""
    exchange = await channel.declare_exchange(
        names.DEAD_LETTER_EXCHANGE, aio_pika.ExchangeType.FANOUT, durable=True
    )
    queue = await channel.declare_queue(names.DEAD_LETTER_QUEUE, durable=True)
    await queue.bind(exchange)
    return queue


async def declare_work_queue(channel: AbstractChannel, name: str) -> AbstractQueue:
    """A durable queue whose rejected messages go to the dead-letter queue."""
    return await channel.declare_queue(name, durable=True, arguments=_DEAD_LETTER_ARGS)


async def declare_events(channel: AbstractChannel) -> aio_pika.abc.AbstractExchange:
    """The topic exchange of status events and the registrar's queue bound to it."""
    exchange = await channel.declare_exchange(
        names.EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
    )
    queue = await declare_work_queue(channel, names.STATUS_EVENTS_QUEUE)
    await queue.bind(exchange, routing_key="status.#")
    return exchange


def _redact(url: str) -> str:
    """Hide the password of an AMQP URL before it reaches a log or an error."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"
