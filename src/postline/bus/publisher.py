"""Confirmed publishing: a publish returns only once RabbitMQ has the message."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange
from aio_pika.exceptions import AMQPError, DeliveryError, PublishError
from aiormq.exceptions import ChannelInvalidStateError

from postline.errors import BusError


async def publish(
    exchange: AbstractExchange, message: aio_pika.Message, key: str
) -> None:
    """Publish one persistent message and wait for the broker's confirm."""
    await publish_many(exchange, [(message, key)])


async def publish_many(
    exchange: AbstractExchange, items: Iterable[tuple[aio_pika.Message, str]]
) -> None:
    """Publish a batch with all confirms awaited together.

    Raises ``BusError`` if any message was refused or unroutable; the caller
    then knows nothing of the batch is certain and may publish it again.
    """
    pending = [
        exchange.publish(message, routing_key=key, mandatory=True)
        for message, key in items
    ]
    try:
        await asyncio.gather(*pending)
    except (
        AMQPError,
        DeliveryError,
        PublishError,
        ConnectionError,
        # aiormq raises this RuntimeError on a channel the broker closed.
        ChannelInvalidStateError,
    ) as exc:
        raise BusError(f"publish not confirmed: {exc!r}") from exc


def default_exchange(channel: AbstractChannel) -> AbstractExchange:
    """The direct exchange that routes by queue name."""
    return channel.default_exchange
