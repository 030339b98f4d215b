"""The campaign summary: where every audience member of one launch ended up.

The audience is counted apart from the ledger, from the campaign's list: the
profiles subscribed to it on the campaign's channel (in any subscription
status) no later than the launch started. Every one of them should have one
ledger row (DESIGN §3), so the counts by status add up to the audience; a
difference means rows are missing (a launch still running or interrupted) or
extra (profiles that joined before a resumed launch went on). Rows still
queued, submitted or deferred are in flight: the counts are not final yet,
whatever the launch status says.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from postline.errors import NotFoundError
from postline.mta.outcome import UNKNOWN_PREFIX
from postline.store.tables import (
    campaign_log,
    campaigns,
    launches,
    ledger,
    subscriptions,
)

# Reason shown for a non-delivery or a skip that names none.
UNDEFINED = "undefined"

# Statuses that are not final (DESIGN §3): the message is still on its way.
IN_FLIGHT = ("queued", "submitted", "deferred")

_PLAIN = (*IN_FLIGHT, "delivered", "failed")
_BY_REASON = ("undelivered", "skipped")


@dataclass(frozen=True, slots=True)
class CampaignReport:
    """Counts of one launch. ``undelivered`` and ``skipped`` map reason → count."""

    campaign_id: int
    campaign_name: str
    launch_id: int
    launch_status: str
    started_at: datetime
    finished_at: datetime | None
    audience: int
    queued: int = 0
    submitted: int = 0
    deferred: int = 0
    delivered: int = 0
    undelivered: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    # Ledger statuses outside DESIGN §3; none should exist.
    other: dict[str, int] = field(default_factory=dict)
    log_errors: int = 0
    # Delivered messages that needed more than one attempt (soft bounces).
    delivered_after_retry: int = 0
    # Delivered messages whose server never answered the final dot: counted
    # delivered rather than resent (see docs/mta.md), and shown apart.
    delivered_unconfirmed: int = 0

    @property
    def accounted(self) -> int:
        """Ledger rows of the launch, in every status."""
        plain = sum(int(getattr(self, status)) for status in _PLAIN)
        keyed = self.undelivered, self.skipped, self.other
        return plain + sum(sum(counts.values()) for counts in keyed)

    @property
    def difference(self) -> int:
        """Audience members without a ledger row (negative: rows beyond it)."""
        return self.audience - self.accounted

    @property
    def adds_up(self) -> bool:
        return self.difference == 0

    @property
    def in_flight(self) -> int:
        """Messages not yet in a final status: queued, submitted or deferred.

        Independent of the launch status: a finished launch has published
        every message, and some may still be waiting for their outcome.
        """
        return sum(int(getattr(self, status)) for status in IN_FLIGHT)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data, with the totals spelled out."""
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        data["undelivered_total"] = sum(self.undelivered.values())
        data["skipped_total"] = sum(self.skipped.values())
        data["accounted"] = self.accounted
        data["difference"] = self.difference
        data["adds_up"] = self.adds_up
        data["in_flight"] = self.in_flight
        return data


async def campaign_report(
    engine: AsyncEngine, campaign_id: int, launch_id: int | None = None
) -> CampaignReport:
    """The report of a launch: the given one, or the campaign's latest.

    Raises ``NotFoundError`` for a missing campaign, a launch of another
    campaign, or a campaign never launched.
    """
    async with engine.connect() as conn:
        name, list_id, channel = await _campaign(conn, campaign_id)
        launch = await _launch(conn, campaign_id, launch_id)
        audience = await _audience(conn, list_id, channel, launch.started_at)
        counts = await _ledger_counts(conn, launch.id)
        errors = await _log_errors(conn, launch.id)
        retried = await _delivered_after_retry(conn, launch.id)
        unconfirmed = await _delivered_unconfirmed(conn, launch.id)

    return CampaignReport(
        campaign_id=campaign_id,
        campaign_name=name,
        launch_id=launch.id,
        launch_status=launch.status,
        started_at=launch.started_at,
        finished_at=launch.finished_at,
        audience=audience,
        log_errors=errors,
        delivered_after_retry=retried,
        delivered_unconfirmed=unconfirmed,
        **_by_status(counts),
    )


async def _campaign(conn: AsyncConnection, campaign_id: int) -> tuple[str, int, str]:
    query = select(campaigns.c.name, campaigns.c.list_id, campaigns.c.channel).where(
        campaigns.c.id == campaign_id
    )
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFoundError(f"campaign {campaign_id} does not exist")
    return row.name, row.list_id, row.channel


@dataclass(frozen=True, slots=True)
class _Launch:
    id: int
    status: str
    started_at: datetime
    finished_at: datetime | None


async def _launch(
    conn: AsyncConnection, campaign_id: int, launch_id: int | None
) -> _Launch:
    query = select(
        launches.c.id,
        launches.c.status,
        launches.c.started_at,
        launches.c.finished_at,
    ).where(launches.c.campaign_id == campaign_id)
    if launch_id is not None:
        query = query.where(launches.c.id == launch_id)
    row = (await conn.execute(query.order_by(launches.c.id.desc()).limit(1))).first()

    if row is not None:
        return _Launch(row.id, row.status, row.started_at, row.finished_at)
    if launch_id is not None:
        raise NotFoundError(f"campaign {campaign_id} has no launch {launch_id}")
    raise NotFoundError(f"campaign {campaign_id} has not been launched")


async def _audience(
    conn: AsyncConnection, list_id: int, channel: str, started_at: datetime
) -> int:
    query = select(func.count(subscriptions.c.profile_id.distinct())).where(
        subscriptions.c.list_id == list_id,
        subscriptions.c.channel == channel,
        subscriptions.c.created_at <= started_at,
    )
    return int((await conn.execute(query)).scalar_one())


async def _ledger_counts(
    conn: AsyncConnection, launch_id: int
) -> list[tuple[str, str | None, int]]:
    query = (
        select(ledger.c.status, ledger.c.reason, func.count())
        .where(ledger.c.launch_id == launch_id)
        .group_by(ledger.c.status, ledger.c.reason)
    )
    return [(row[0], row[1], int(row[2])) for row in await conn.execute(query)]


async def _log_errors(conn: AsyncConnection, launch_id: int) -> int:
    query = select(func.count()).where(
        campaign_log.c.launch_id == launch_id, campaign_log.c.level == "ERROR"
    )
    return int((await conn.execute(query)).scalar_one())


async def _delivered_after_retry(conn: AsyncConnection, launch_id: int) -> int:
    query = select(func.count()).where(
        ledger.c.launch_id == launch_id,
        ledger.c.status == "delivered",
        ledger.c.attempts > 1,
    )
    return int((await conn.execute(query)).scalar_one())


async def _delivered_unconfirmed(conn: AsyncConnection, launch_id: int) -> int:
    query = select(func.count()).where(
        ledger.c.launch_id == launch_id,
        ledger.c.status == "delivered",
        ledger.c.reply.startswith(UNKNOWN_PREFIX),
    )
    return int((await conn.execute(query)).scalar_one())


def _by_status(counts: list[tuple[str, str | None, int]]) -> dict[str, Any]:
    """Keyword arguments of ``CampaignReport`` from (status, reason, count) rows."""
    fields: dict[str, Any] = {status: {} for status in (*_BY_REASON, "other")}
    for status, reason, count in counts:
        if status in _PLAIN:
            fields[status] = fields.get(status, 0) + count
        elif status in _BY_REASON:
            key = reason or UNDEFINED
            fields[status][key] = fields[status].get(key, 0) + count
        else:
            fields["other"][status] = fields["other"].get(status, 0) + count

    for keyed in (*_BY_REASON, "other"):
        fields[keyed] = dict(sorted(fields[keyed].items(), key=lambda kv: -kv[1]))
    return fields
