"""The campaign run's link to RabbitMQ: one MTA queue, publishes confirmed.

aio-pika errors raised while connecting, declaring or publishing are turned
into ``BusError`` here. ``publish_many`` translates most publish errors
itself; a channel that closed under the run (the connection was lost) raises
a ``RuntimeError`` subclass it lets through, so that one is caught here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from aio_pika.abc import AbstractExchange, AbstractRobustConnection
from aio_pika.exceptions import AMQPError
from aiormq.exceptions import ChannelInvalidStateError

from postline.bus.mail import OutboundEmail, to_amqp
from postline.bus.publisher import default_exchange, publish_many
from postline.bus.topology import connect, declare_work_queue, open_channel
from postline.errors import BusError


class Outbox:
    """Publishes built emails to one queue and returns once all are confirmed."""

    def __init__(self, exchange: AbstractExchange, queue: str) -> None:
        self._exchange = exchange
        self.queue = queue

    async def publish(self, emails: Sequence[OutboundEmail]) -> None:
        """Publish a batch; ``BusError`` means none of it can be counted on."""
        if not emails:
            return

        try:
            await publish_many(
                self._exchange, [(to_amqp(email), self.queue) for email in emails]
            )
        except ChannelInvalidStateError as exc:
            # Its text is the channel's repr, which tells an operator nothing.
            raise BusError("publish failed: lost the connection to RabbitMQ") from exc


@asynccontextmanager
async def open_outbox(amqp_url: str, queue: str) -> AsyncIterator[Outbox]:
    """Connect, declare the queue, and yield its outbox; closes on exit."""
    connection = await connect(amqp_url)
    try:
        yield await _outbox(connection, queue)
    finally:
        await connection.close()


async def _outbox(connection: AbstractRobustConnection, queue: str) -> Outbox:
    try:
        channel = await open_channel(connection)
        await declare_work_queue(channel, queue)
    except AMQPError as exc:
        raise BusError(f"cannot declare queue {queue}: {exc!r}") from exc

    return Outbox(default_exchange(channel), queue)
