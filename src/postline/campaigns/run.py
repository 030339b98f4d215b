"""The campaign run: audience, rules, render, build, publish, ledger.

The audience is read in batches by profile id. For each batch, in this order
(the order is the contract with the MTA, and what makes a crash harmless):

1. Read the ledger rows the batch already has. A member with a row is not
   evaluated again, except a ``queued`` row beyond the launch's
   ``published_through``: its publish may not have happened, so its message
   is built and published again (the MTA drops a message id it has seen).
2. Insert the batch's new rows and their campaign-log entries in one
   transaction.
3. Publish the batch's messages and wait for every confirm.
4. Move ``published_through`` to the batch's highest profile id.

Step 1 of the next batch (reads and CPU work only) runs while steps 3 and 4
of the current one wait on RabbitMQ, and step 2 waits for them, so at most
one batch is ever between its ledger rows and its confirm. When the
audience is exhausted the launch is marked finished.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from postline.bus.mail import OutboundEmail
from postline.campaigns import campaign_log
from postline.campaigns.audience import (
    CHANNEL,
    Member,
    count_audience,
    fetch_batch,
    template_variables,
)
from postline.campaigns.launches import (
    Launch,
    campaign_lock,
    finish_launch,
    mark_published,
    open_launch,
)
from postline.campaigns.ledger import (
    QUEUED,
    SKIPPED,
    BatchRecord,
    LedgerState,
    existing_rows,
    messaged_contacts,
    record_batch,
    stop_listed,
)
from postline.campaigns.outbox import Outbox, open_outbox
from postline.campaigns.plan import CampaignPlan, load_plan
from postline.campaigns.progress import Advance, progress_bar
from postline.campaigns.rules import TEMPLATE_ERROR, contact_key, skip_reason
from postline.campaigns.summary import LaunchSummary, summarize
from postline.email.message import MessageBuilder, ascii_address
from postline.errors import BusError, RenderError, StoreError
from postline.ids import message_id, verp_address
from postline.settings import Settings

log = logging.getLogger(__name__)


async def run_campaign(
    settings: Settings,
    engine: AsyncEngine,
    campaign_id: int,
    *,
    again: bool = False,
    progress: bool = False,
) -> LaunchSummary:
    """Launch the campaign, or resume its unfinished launch, to the end.

    A campaign whose last launch finished is refused (``StateError``) unless
    ``again`` is set. ``progress`` shows a bar on the terminal.
    """
    started = time.perf_counter()
    plan = await load_plan(engine, campaign_id)

    async with campaign_lock(engine, campaign_id):
        launch = await open_launch(engine, campaign_id, again=again)
        with _resumable(launch):
            summary = await _complete(settings, engine, plan, launch, progress, started)

    log.info(
        "campaign_run campaign_id=%d launch_id=%d audience=%d queued=%d "
        "skipped=%d published=%d elapsed=%.2fs rate=%.0f/s",
        campaign_id,
        launch.id,
        summary.audience,
        summary.queued,
        sum(summary.skipped.values()),
        summary.published,
        summary.elapsed,
        summary.rate,
    )
    return summary


async def _complete(
    settings: Settings,
    engine: AsyncEngine,
    plan: CampaignPlan,
    launch: Launch,
    progress: bool,
    started: float,
) -> LaunchSummary:
    """Send every batch of the launch not yet confirmed, then mark it finished.

    ``started`` is the ``time.perf_counter()`` of the run's start.
    """
    seen = await messaged_contacts(engine, launch.id) if launch.resumed else set()
    total = done = 0
    if progress:
        as_of = launch.started_at
        total = await count_audience(engine, plan.list_id, as_of)
        done = await count_audience(
            engine, plan.list_id, as_of, launch.published_through
        )

    async with open_outbox(settings.amqp_url, plan.queue) as outbox:
        batches = _Batches(settings, engine, plan, launch, outbox, seen)
        with progress_bar(progress, total, done) as advance:
            await batches.run_all(advance)

    elapsed = time.perf_counter() - started
    summary = await summarize(engine, launch.id, elapsed, batches.published)
    await finish_launch(engine, launch, _end_entry(launch, summary))
    return summary


@contextmanager
def _resumable(launch: Launch) -> Iterator[None]:
    """On a database or broker failure, say that running again resumes the launch.

    Whatever the failure interrupted, the ledger and ``published_through``
    let the next run pick the launch up where its confirmed work ends.
    """
    try:
        yield
    except (BusError, StoreError) as exc:
        peer = "RabbitMQ" if isinstance(exc, BusError) else "PostgreSQL"
        # The error is the command's last line: keep the cause on that line.
        cause = " ".join(str(exc).split())
        raise type(exc)(
            f"campaign {launch.campaign_id}: launch {launch.id} stopped: {cause}; "
            f"the launch stays running: run the same command again once {peer} "
            "is reachable to resume it"
        ) from exc


@dataclass(slots=True)
class _Batch:
    """One batch, evaluated and built, before anything is written."""

    members: int
    # Highest profile id in the batch: where published_through moves to.
    through: int
    started: float = field(default_factory=time.perf_counter)
    record: BatchRecord = field(default_factory=lambda: BatchRecord([], {}, []))
    emails: list[OutboundEmail] = field(default_factory=list)
    republish: list[OutboundEmail] = field(default_factory=list)


class _Batches:
    """Runs the batches of one launch; holds what carries from one to the next."""

    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        plan: CampaignPlan,
        launch: Launch,
        outbox: Outbox,
        seen: set[str],
    ) -> None:
        self._engine = engine
        self._plan = plan
        self._launch = launch
        self._outbox = outbox
        self._batch_size = settings.campaign_batch_size
        # Contacts already given a message in this launch, for duplicate_contact.
        self._seen = seen
        self._builder = MessageBuilder(
            plan.sender, settings.hostname, settings.unsubscribe_url
        )
        self.published = 0

    async def run_all(self, advance: Advance) -> None:
        """Every batch beyond the launch's ``published_through``, in order.

        While one batch's confirms are awaited, the next is read and built
        (nothing of it is written yet), so at most one batch is ever between
        its ledger rows and its confirm.
        """
        batch = await self._prepare(self._launch.published_through)
        while batch is not None:
            # Step 2: the ledger rows and log entries, in one transaction.
            inserted = await record_batch(self._engine, batch.record)

            sending = asyncio.create_task(self._send(batch, inserted))
            try:
                upcoming = await self._prepare(batch.through)
            except BaseException:
                sending.cancel()
                raise

            await sending
            advance(batch.members)
            batch = upcoming

    async def _prepare(self, after: int) -> _Batch | None:
        """Step 1: read the next batch, decide each member and build messages."""
        members = await fetch_batch(
            self._engine,
            self._plan.list_id,
            self._launch.started_at,
            after,
            self._batch_size,
        )
        if not members:
            return None

        ids = [message_id(self._launch.id, m.profile_id, CHANNEL) for m in members]
        existing = await existing_rows(self._engine, ids)
        fresh = [(m, i) for m, i in zip(members, ids, strict=True) if i not in existing]
        stopped = await stop_listed(
            self._engine, {contact_key(m.contact) for m, _ in fresh}
        )

        batch = _Batch(members=len(members), through=members[-1].profile_id)
        now = datetime.now(UTC)
        for member, msg_id in fresh:
            self._evaluate(member, msg_id, stopped, now, batch)
        for member, msg_id in zip(members, ids, strict=True):
            if self._unconfirmed(member, existing.get(msg_id)):
                self._rebuild(member, msg_id, now, batch)
        return batch

    async def _send(self, batch: _Batch, inserted: set[str]) -> None:
        """Step 3: publish with confirms; step 4: record how far that reached."""
        outgoing = [e for e in batch.emails if e.message_id in inserted]
        outgoing += batch.republish
        await self._outbox.publish(outgoing)
        await mark_published(self._engine, self._launch.id, batch.through)
        self.published += len(outgoing)

        log.info(
            "batch launch_id=%d through=%d members=%d queued=%d republished=%d "
            "skipped=%d elapsed=%.3fs",
            self._launch.id,
            batch.through,
            batch.members,
            len(outgoing) - len(batch.republish),
            len(batch.republish),
            sum(1 for row in batch.record.rows if row["status"] == SKIPPED),
            time.perf_counter() - batch.started,
        )

    def _unconfirmed(self, member: Member, state: LedgerState | None) -> bool:
        return (
            state is not None
            and state.status == QUEUED
            and member.profile_id > self._launch.published_through
        )

    def _evaluate(
        self,
        member: Member,
        msg_id: str,
        stopped: set[str],
        now: datetime,
        batch: _Batch,
    ) -> None:
        """Apply the rules and build the message, or record why not."""
        reason = skip_reason(member, stopped, self._seen)
        if reason is not None:
            batch.record.rows.append(self._row(member, msg_id, SKIPPED, reason))
            batch.record.entries.append(
                self._entry(member, msg_id, campaign_log.INFO, f"skipped: {reason}")
            )
            return

        try:
            email = self._build(member, msg_id, now)
        except RenderError as exc:
            batch.record.rows.append(self._row(member, msg_id, SKIPPED, TEMPLATE_ERROR))
            batch.record.entries.append(
                self._entry(member, msg_id, campaign_log.ERROR, str(exc))
            )
            return

        self._seen.add(contact_key(member.contact))
        batch.record.rows.append(self._row(member, msg_id, QUEUED, None))
        batch.emails.append(email)

    def _rebuild(
        self, member: Member, msg_id: str, now: datetime, batch: _Batch
    ) -> None:
        """Build again a message whose publish a crash left unconfirmed."""
        try:
            batch.republish.append(self._build(member, msg_id, now))
        except RenderError as exc:
            # The profile changed since the first run and no longer renders.
            batch.record.given_up[msg_id] = TEMPLATE_ERROR
            batch.record.entries.append(
                self._entry(member, msg_id, campaign_log.ERROR, str(exc))
            )

    def _build(self, member: Member, msg_id: str, now: datetime) -> OutboundEmail:
        """Render and build one member's message, or raise ``RenderError``."""
        unsubscribe_url = self._builder.unsubscribe_url(msg_id)
        variables = template_variables(member, unsubscribe_url)
        content = self._plan.template.render(variables)
        body = self._builder.build(
            msg_id, member.contact, content.subject, content.text, content.html, now
        )
        return OutboundEmail(
            message_id=msg_id,
            mail_from=verp_address(msg_id, self._plan.sender.bounce_domain),
            rcpt_to=ascii_address(member.contact),
            sender_id=self._plan.sender.id,
            campaign_id=self._plan.id,
            launch_id=self._launch.id,
            profile_id=member.profile_id,
            queued_at=now,
            body=body,
        )

    def _row(
        self, member: Member, msg_id: str, status: str, reason: str | None
    ) -> dict[str, Any]:
        return {
            "message_id": msg_id,
            "launch_id": self._launch.id,
            "campaign_id": self._plan.id,
            "profile_id": member.profile_id,
            "channel": CHANNEL,
            "contact": member.contact,
            "sender_id": self._plan.sender.id,
            "status": status,
            "reason": reason,
        }

    def _entry(
        self, member: Member, msg_id: str, level: str, message: str
    ) -> dict[str, Any]:
        return campaign_log.entry(
            self._plan.id,
            self._launch.id,
            level,
            message,
            message_id=msg_id,
            profile_id=member.profile_id,
        )


def _end_entry(launch: Launch, summary: LaunchSummary) -> dict[str, Any]:
    return campaign_log.entry(
        launch.campaign_id,
        launch.id,
        campaign_log.INFO,
        f"Campaign finished: {summary.counts()}",
        state="end",
        value=f"{summary.elapsed * 1000:.1f}ms",
    )
