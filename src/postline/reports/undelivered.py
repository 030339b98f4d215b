"""The non-delivery report: ``undelivered`` ledger rows by domain and bounce text.

Only final non-deliveries count (DESIGN §3): skips, failed hand-overs and
messages still deferred are not in it. The bounce text is the last reply
recorded for the message; a row without one (an expired lifetime, say) shows
its reason instead. Servers often quote the recipient in their reply; the
address is shown as ``<email>`` so that the same reply from one domain makes
one row, not one per recipient. Rows are ordered by count, largest first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from postline.errors import NotFoundError
from postline.reports.campaign import UNDEFINED
from postline.store.tables import campaigns, ledger

ALL_CAMPAIGNS = "all campaigns"

# Stands for the recipient's address where a reply quotes it.
RECIPIENT = "<email>"

# The workflow's column titles, in order.
COLUMNS = ("Group by", "To domain", "Bounce text", "Amount")


@dataclass(frozen=True, slots=True)
class UndeliveredRow:
    """One line of the report. ``campaign_id`` is None for all campaigns."""

    group: str
    campaign_id: int | None
    to_domain: str
    bounce_text: str
    count: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def cells(self) -> tuple[str, str, str, int]:
        """The values under ``COLUMNS``."""
        return self.group, self.to_domain, self.bounce_text, self.count


async def undelivered_report(
    engine: AsyncEngine,
    campaign_id: int | None = None,
    *,
    group_by_campaign: bool = False,
) -> list[UndeliveredRow]:
    """Non-deliveries of one campaign (every launch) or of all campaigns.

    With one campaign, or ``group_by_campaign``, rows are per campaign and the
    group is its name; otherwise the group is "all campaigns".
    """
    per_campaign = group_by_campaign or campaign_id is not None
    domain = func.lower(func.split_part(func.coalesce(ledger.c.contact, ""), "@", 2))
    reply = func.replace(ledger.c.reply, ledger.c.contact, RECIPIENT)
    text = func.coalesce(reply, ledger.c.reason, UNDEFINED)
    keys = [campaigns.c.name, ledger.c.campaign_id] if per_campaign else []
    count = func.count().label("count")

    query = (
        select(domain, text, count, *keys)
        .select_from(ledger.join(campaigns, campaigns.c.id == ledger.c.campaign_id))
        .where(ledger.c.status == "undelivered")
        .group_by(*keys, domain, text)
        .order_by(count.desc(), *keys, domain, text)
    )
    if campaign_id is not None:
        query = query.where(ledger.c.campaign_id == campaign_id)

    async with engine.connect() as conn:
        if campaign_id is not None:
            await _require_campaign(conn, campaign_id)
        rows = (await conn.execute(query)).all()

    return [
        UndeliveredRow(
            group=row[3] if per_campaign else ALL_CAMPAIGNS,
            campaign_id=int(row[4]) if per_campaign else None,
            to_domain=row[0],
            bounce_text=row[1],
            count=int(row[2]),
        )
        for row in rows
    ]


async def _require_campaign(conn: AsyncConnection, campaign_id: int) -> None:
    """An empty report for a campaign that does not exist would mislead."""
    found = await conn.scalar(
        select(campaigns.c.id).where(campaigns.c.id == campaign_id)
    )
    if found is None:
        raise NotFoundError(f"campaign {campaign_id} does not exist")
