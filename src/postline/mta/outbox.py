"""Publishing the spool's journaled status events, confirmed, at least once.

An event is published only after the record that carries it is on disk, and
is forgotten (a PUBLISHED record) only after RabbitMQ confirmed it. A crash in
between publishes it again on restart; ``event_id`` makes that harmless.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aio_pika.abc import AbstractExchange

from postline.bus.events import StatusEvent, to_amqp
from postline.bus.publisher import publish_many
from postline.errors import BusError, SpoolError
from postline.mta.spool import Spool

log = logging.getLogger(__name__)

EventSink = Callable[[list[StatusEvent]], Awaitable[None]]

BATCH = 256
# Seconds to wait before publishing again after RabbitMQ refused a batch.
RETRY_DELAY = 1.0


def amqp_sink(exchange: AbstractExchange) -> EventSink:
    """Publish events to the events exchange, each under its routing key."""

    async def publish(events: list[StatusEvent]) -> None:
        await publish_many(exchange, [(to_amqp(e), e.routing_key) for e in events])

    return publish


class Outbox:
    """Moves events from one spool's outbox to an ``EventSink``."""

    def __init__(self, spool: Spool, sink: EventSink) -> None:
        self._spool = spool
        self._sink = sink
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self.published = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self, within: float) -> bool:
        """Publish what is waiting for up to ``within`` seconds, then stop.

        True if nothing is left; what is left is published after a restart.
        """
        self._closing = True
        self._spool.events_ready.set()
        if self._task is None:
            return self._spool.outbox_size == 0

        try:
            async with asyncio.timeout(within):
                await self._task
        except TimeoutError:
            log.warning("events_left_unpublished count=%d", self._spool.outbox_size)
        return self._spool.outbox_size == 0

    async def _run(self) -> None:
        # A batch in flight is never cancelled by stop(): it would be
        # published again after a restart for no reason.
        while True:
            if await self.publish_batch():
                continue
            if self._closing:
                return
            self._spool.events_ready.clear()
            await self._spool.events_ready.wait()

    async def publish_batch(self) -> bool:
        """Publish one batch; False when there was nothing to publish."""
        batch = self._spool.unpublished(BATCH)
        if not batch:
            return False

        events = [event for event, _ in batch]
        try:
            await self._spool.journal.durable(max(lsn for _, lsn in batch))
            await self._sink(events)
        except (BusError, SpoolError) as exc:
            log.warning("events_publish_failed count=%d error=%s", len(events), exc)
            await asyncio.sleep(RETRY_DELAY)
            return True

        self._spool.confirm([event.event_id for event in events])
        self.published += len(events)
        return True
