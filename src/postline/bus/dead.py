"""Dead-lettering a payload that cannot be parsed, with the reason attached."""

from __future__ import annotations

import logging

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from postline.bus import names
from postline.bus.publisher import publish

log = logging.getLogger(__name__)


async def dead_letter(
    channel: AbstractChannel, message: AbstractIncomingMessage, reason: str
) -> None:
    """Copy the message to the dead-letter queue with its reason, then ack it.

    The copy is confirmed before the ack, so the payload is never lost.
    """
    exchange = await channel.get_exchange(names.DEAD_LETTER_EXCHANGE)
    headers = dict(message.headers or {})
    headers["x-postline-reason"] = reason
    headers["x-postline-queue"] = message.routing_key or ""
    copy = aio_pika.Message(
        body=message.body,
        headers=headers,
        message_id=message.message_id,
        content_type=message.content_type,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )
    await publish(exchange, copy, key="")
    await message.ack()
    log.warning(
        "dead_lettered queue=%s message_id=%s reason=%r",
        message.routing_key,
        message.message_id,
        reason,
    )
