"""The MTA of one sender: its spool, its workers, its outbox.

``connections`` workers take due messages from the spool at the pace of the
strategy and send them, one SMTP session each. The priority path makes one
immediate attempt on a session pool of its own, so a spooled backlog never
delays it. Every outcome is journaled the instant its reply is read; events
leave through the outbox.

This runs without RabbitMQ consumption too: fill ``spool`` with
``spool.add(email)`` and ``start()`` sends it (the benchmark does this).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from functools import partial

from postline.bus.mail import OutboundEmail
from postline.errors import SpoolError
from postline.mta.attempt import AttemptResult, Deliverer
from postline.mta.envelope import Envelope
from postline.mta.journal import SEGMENT_BYTES
from postline.mta.outbox import EventSink, Outbox
from postline.mta.outcome import (
    UNKNOWN_AFTER_DOT,
    UNKNOWN_AFTER_STOP,
    Outcome,
    expired,
    judge,
    to_event,
    unknown,
)
from postline.mta.pacing import Pacer
from postline.mta.reply import Reply
from postline.mta.routing import Router
from postline.mta.sessions import SessionPool
from postline.mta.smtp import SmtpSession
from postline.mta.spool import Entry, Interrupted, Spool
from postline.senders import Sender
from postline.settings import Settings

log = logging.getLogger(__name__)

# Seconds one priority attempt may take: far below RabbitMQ's consumer_timeout
# (30 min), which would close the channel of a delivery left unacked longer.
PRIORITY_ATTEMPT_LIMIT = 120.0
# Seconds in-flight attempts get to finish when the MTA stops.
STOP_GRACE = 30.0
# Seconds before retrying a message whose attempt the journal could not record.
SPOOL_ERROR_DELAY = 60.0
# Finished ids are kept this long beyond the sender's lifetime, for dedupe.
TOMBSTONE_EXTRA = 86400.0
_HOUSEKEEPING_EVERY = 1.0
_PRUNE_EVERY = 600.0


class SenderMta:
    """Spool, workers and outbox of one sender. Times are epoch seconds."""

    def __init__(
        self,
        sender: Sender,
        settings: Settings,
        sink: EventSink,
        *,
        router: Router | None = None,
        clock: Callable[[], float] = time.time,
        segment_bytes: int = SEGMENT_BYTES,
    ) -> None:
        self.sender = sender
        self.spool = Spool(
            settings.spool_dir / str(sender.id),
            retention=sender.lifetime + TOMBSTONE_EXTRA,
            clock=clock,
            segment_bytes=segment_bytes,
        )
        opener = partial(
            SmtpSession.open,
            helo=settings.hostname,
            connect_timeout=settings.smtp_connect_timeout,
            command_timeout=settings.smtp_command_timeout,
        )
        router = router or Router(settings.smtp_routes)
        self._pool = SessionPool(sender.connections, opener)
        self._priority_pool = SessionPool(sender.connections, opener)
        self._deliverer = Deliverer(router, self._pool)
        self._priority = Deliverer(router, self._priority_pool)
        self._pacer = Pacer(sender.strategy_messages, sender.strategy_interval)
        self.outbox = Outbox(self.spool, sink)
        self._clock = clock
        self._workers: list[asyncio.Task[None]] = []
        self._background: list[asyncio.Task[None]] = []
        self._in_flight: set[asyncio.Task[None]] = set()
        self.unknown_outcomes = 0

    async def start(self) -> None:
        """Open the spool, settle interrupted attempts, start sending."""
        for item in self.spool.open():
            self._finish_unknown(item)

        self._background = [
            asyncio.create_task(self.spool.journal.run_flusher()),
            asyncio.create_task(self._housekeeping()),
        ]
        self.outbox.start()
        self._workers = [
            asyncio.create_task(self._work()) for _ in range(self.sender.connections)
        ]

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Stop taking messages, let attempts finish (``grace`` s), flush."""
        self.spool.queue.close()
        await _cancel(self._workers)
        if self._in_flight:
            _, late = await asyncio.wait(self._in_flight, timeout=grace)
            await _cancel(list(late))

        await _cancel(self._background[1:])
        await self.outbox.stop(within=5.0)
        await self._pool.close()
        await self._priority_pool.close()
        await _cancel(self._background[:1])
        self.spool.close()
        log.info(
            "sender_stopped sender_id=%s pending=%d unpublished=%d",
            self.sender.id,
            self.spool.pending,
            self.spool.outbox_size,
        )

    async def accept(self, email: OutboundEmail) -> bool:
        """Spool a message from the standard queue and wait until it is on
        disk; False (and nothing written) if its id is already known.
        """
        lsn = self.spool.add(email)
        if lsn is None:
            return False
        await self.spool.journal.durable(lsn)
        return True

    async def deliver_now(self, email: OutboundEmail) -> str | None:
        """One immediate attempt; the outcome is on disk when this returns.

        Returns the outcome's label, or None when the id is already known.
        A message past its lifetime is not attempted: it ends
        ``lifetime_expired``, as on the standard path. A soft failure is
        spooled and follows the standard path.
        """
        if not self.spool.claim(email.message_id):
            return None

        envelope = Envelope.of(email)
        late = expired(envelope, self.sender, self._clock())
        if late is not None:
            lsn = self.spool.finish(
                envelope.message_id, 0, [to_event(envelope, late, 0)]
            )
            self._log_expired(envelope, 0)
            await self.spool.journal.durable(lsn)
            return late.label

        try:
            result = await self._attempt_now(envelope, email.body)
        except BaseException:
            self.spool.release(email.message_id)
            raise

        outcome = self._judge(result, envelope, attempt=1)
        if outcome.final:
            lsn = self.spool.finish(
                envelope.message_id, 1, [to_event(envelope, outcome, 1)]
            )
        else:
            assert outcome.next_attempt_at is not None
            event = to_event(envelope, outcome, 1)
            lsn = self.spool.requeue(email, 1, outcome.next_attempt_at, event)
        self._log_attempt(envelope, result, outcome, 1)

        await self.spool.journal.durable(lsn)
        return outcome.label

    async def _attempt_now(self, envelope: Envelope, body: bytes) -> AttemptResult:
        final_dot = False

        def before_final() -> None:
            nonlocal final_dot
            self.spool.mark_sending(envelope, 1)
            final_dot = True

        try:
            return await asyncio.wait_for(
                self._priority.attempt(envelope, body, before_final),
                PRIORITY_ATTEMPT_LIMIT,
            )
        except TimeoutError:
            text = f"4.4.2 priority attempt exceeded {PRIORITY_ATTEMPT_LIMIT:.0f} s"
            return AttemptResult(
                Reply(451, text, local=True), "-", PRIORITY_ATTEMPT_LIMIT, final_dot
            )

    async def _work(self) -> None:
        while True:
            await self._pacer.wait()
            entry = await self.spool.next_due()
            if entry is None:
                return

            task = asyncio.create_task(self._deliver(entry))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
            # Shielded: stopping cancels the worker, not the attempt under way.
            await asyncio.shield(task)

    async def _deliver(self, entry: Entry) -> None:
        try:
            await self._attempt_spooled(entry)
        except Exception:
            # A bug, not a delivery failure: keep the message, never resend
            # one whose final dot may have gone out.
            log.exception(
                "attempt_crashed message_id=%s sender_id=%s",
                entry.envelope.message_id,
                self.sender.id,
            )
            if entry.sending:
                self._finish_unknown(Interrupted(entry.envelope, entry.attempt + 1))
            else:
                self.spool.postpone(entry, SPOOL_ERROR_DELAY)

    async def _attempt_spooled(self, entry: Entry) -> None:
        envelope = entry.envelope
        late = expired(envelope, self.sender, self._clock())
        if late is not None:
            self._record(envelope, late, entry.attempt)
            self._log_expired(envelope, entry.attempt)
            return

        attempt = entry.attempt + 1
        try:
            body = self.spool.read_body(entry)
            result = await self._deliverer.attempt(
                envelope, body, lambda: self.spool.mark_sending(envelope, attempt)
            )
            outcome = self._judge(result, envelope, attempt)
            self._record(envelope, outcome, attempt)
        except SpoolError as exc:
            log.error(
                "spool_failed message_id=%s sender_id=%s error=%s",
                envelope.message_id,
                self.sender.id,
                exc,
            )
            self.spool.postpone(entry, SPOOL_ERROR_DELAY)
            return
        self._log_attempt(envelope, result, outcome, attempt)

    def _judge(
        self, result: AttemptResult, envelope: Envelope, attempt: int
    ) -> Outcome:
        if result.unknown:
            self.unknown_outcomes += 1
            return unknown(f"{UNKNOWN_AFTER_DOT} ({result.reply.line})")
        return judge(
            result.reply,
            attempt=attempt,
            sender=self.sender,
            envelope=envelope,
            now=self._clock(),
        )

    def _record(self, envelope: Envelope, outcome: Outcome, attempt: int) -> None:
        event = to_event(envelope, outcome, attempt)
        if outcome.final:
            self.spool.finish(envelope.message_id, attempt, [event])
        else:
            assert outcome.next_attempt_at is not None
            self.spool.defer(
                envelope.message_id, attempt, outcome.next_attempt_at, event
            )

    def _finish_unknown(self, item: Interrupted) -> None:
        outcome = unknown(UNKNOWN_AFTER_STOP)
        self._record(item.envelope, outcome, item.attempt)
        self.unknown_outcomes += 1
        log.warning(
            "outcome_unknown message_id=%s sender_id=%s attempt=%d "
            "recorded=delivered reason=stopped_after_final_dot",
            item.envelope.message_id,
            self.sender.id,
            item.attempt,
        )

    def _log_expired(self, envelope: Envelope, attempt: int) -> None:
        log.info(
            "expired message_id=%s sender_id=%s outcome=lifetime_expired attempt=%d",
            envelope.message_id,
            self.sender.id,
            attempt,
        )

    def _log_attempt(
        self, envelope: Envelope, result: AttemptResult, outcome: Outcome, attempt: int
    ) -> None:
        log.info(
            "attempt message_id=%s sender_id=%s rcpt_domain=%s route=%s outcome=%s "
            "code=%d attempt=%d elapsed=%.3fs",
            envelope.message_id,
            self.sender.id,
            envelope.domain,
            result.route,
            outcome.label,
            result.reply.code,
            attempt,
            result.elapsed,
        )

    async def _housekeeping(self) -> None:
        last_prune = self._clock()
        while True:
            await asyncio.sleep(_HOUSEKEEPING_EVERY)
            self._pool.reap()
            self._priority_pool.reap()
            try:
                await self.spool.compact()
                if self._clock() - last_prune > _PRUNE_EVERY:
                    self.spool.prune()
                    last_prune = self._clock()
            except (SpoolError, OSError) as exc:
                log.error(
                    "spool_housekeeping_failed sender_id=%s error=%s",
                    self.sender.id,
                    exc,
                )


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
