"""Consumers of a sender's two queues; the edge where aio-pika meets the MTA.

Standard queue (``akmta_<id>``): spool the message, wait for the fsync that
covers it, then ack. Priority queue (``akmta_prior_<id>``): one attempt while
the delivery stays unacked; ack once its outcome (or its spooling, after a
soft failure) is on disk. A payload that cannot be parsed is dead-lettered;
an id already spooled, in flight or finished is acked and dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError

from postline.bus import mail, names
from postline.bus.dead import dead_letter
from postline.bus.topology import declare_work_queue, open_channel
from postline.errors import BusError, PayloadError, SpoolError
from postline.mta.sender import SenderMta

log = logging.getLogger(__name__)

# Standard deliveries held at once; each waits only for a group fsync.
STANDARD_PREFETCH = 512
_AMQP_ERRORS = (AMQPError, ChannelInvalidStateError, ConnectionError)

Handler = Callable[[AbstractChannel, AbstractIncomingMessage], Awaitable[None]]
Callback = Callable[[AbstractIncomingMessage], Awaitable[None]]


class Intake:
    """The two consumers of one sender."""

    def __init__(self, connection: AbstractRobustConnection, mta: SenderMta) -> None:
        self._connection = connection
        self._mta = mta
        self._channels: list[AbstractChannel] = []
        self._consumers: list[tuple[AbstractQueue, str]] = []
        self._handling: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        sender = self._mta.sender
        try:
            await self._consume(
                names.mta_queue(sender.id), STANDARD_PREFETCH, self._on_standard
            )
            await self._consume(
                names.mta_priority_queue(sender.id),
                sender.connections,
                self._on_priority,
            )
        except _AMQP_ERRORS as exc:
            raise BusError(
                f"cannot consume the queues of sender {sender.id}: {exc}"
            ) from exc

    async def stop(self, grace: float) -> None:
        """Stop consuming, let handlers finish (``grace`` s), close the channels.

        Deliveries still unacked go back to their queue.
        """
        for queue, tag in self._consumers:
            try:
                await queue.cancel(tag)
            except _AMQP_ERRORS as exc:
                log.warning("consumer_cancel_failed queue=%s error=%s", queue.name, exc)
        if self._handling:
            _, late = await asyncio.wait(self._handling, timeout=grace)
            # Cut off after the grace: an attempt past its SENDING record is
            # settled as unknown at the next start, any other is redelivered.
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

        for channel in self._channels:
            try:
                await channel.close()
            except _AMQP_ERRORS as exc:
                log.warning("channel_close_failed error=%s", exc)

    async def _consume(self, queue_name: str, prefetch: int, handler: Handler) -> None:
        channel = await open_channel(self._connection, prefetch=prefetch)
        self._channels.append(channel)
        queue = await declare_work_queue(channel, queue_name)
        callback = self._tracked(channel, handler)
        self._consumers.append((queue, await queue.consume(callback)))

    def _tracked(self, channel: AbstractChannel, handler: Handler) -> Callback:
        """The consumer callback, counted while it runs so stop can wait."""

        async def on_message(message: AbstractIncomingMessage) -> None:
            task = asyncio.current_task()
            if task is not None:
                self._handling.add(task)
            try:
                await handler(channel, message)
            finally:
                if task is not None:
                    self._handling.discard(task)

        return on_message

    async def _on_standard(
        self, channel: AbstractChannel, message: AbstractIncomingMessage
    ) -> None:
        await self._take(channel, message, self._mta.accept)

    async def _on_priority(
        self, channel: AbstractChannel, message: AbstractIncomingMessage
    ) -> None:
        async def deliver_now(email: mail.OutboundEmail) -> bool:
            return await self._mta.deliver_now(email) is not None

        await self._take(channel, message, deliver_now)

    async def _take(
        self,
        channel: AbstractChannel,
        message: AbstractIncomingMessage,
        step: Callable[[mail.OutboundEmail], Awaitable[bool]],
    ) -> None:
        """Run one path's step and ack only once the message is safe.

        ``step`` returns False for a message it already had (a duplicate).
        """
        email = await self._parse(channel, message)
        if email is None:
            return

        try:
            taken = await step(email)
        except SpoolError as exc:
            log.error("spool_failed message_id=%s error=%s", email.message_id, exc)
            await self._settle(message, ack=False)
            return

        await self._settle(message, ack=True)
        if not taken:
            self._log_duplicate(message, email.message_id)

    async def _parse(
        self, channel: AbstractChannel, message: AbstractIncomingMessage
    ) -> mail.OutboundEmail | None:
        try:
            return mail.from_amqp(message)
        except PayloadError as exc:
            try:
                await dead_letter(channel, message, str(exc))
            except (BusError, *_AMQP_ERRORS) as error:
                log.error(
                    "dead_letter_failed queue=%s error=%s", message.routing_key, error
                )
            return None

    async def _settle(self, message: AbstractIncomingMessage, *, ack: bool) -> None:
        try:
            if ack:
                await message.ack()
            else:
                await message.nack(requeue=True)
        except _AMQP_ERRORS as exc:
            # The delivery returns to the queue; dedupe drops it next time.
            log.warning("settle_failed message_id=%s error=%s", message.message_id, exc)

    def _log_duplicate(self, message: AbstractIncomingMessage, message_id: str) -> None:
        log.info(
            "duplicate_dropped message_id=%s sender_id=%s queue=%s",
            message_id,
            self._mta.sender.id,
            message.routing_key,
        )
