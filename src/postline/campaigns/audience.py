"""The audience of a campaign, read in batches ordered by profile id.

The audience is the email subscriptions of the campaign's list, one per
profile: when a profile subscribed several addresses to the list, the
subscription with the highest priority stands for it (the oldest on a tie).
Batches are read by keyset (profile id greater than the last one seen), so
the whole audience is never in memory and a resumed run starts where the
confirmed publishes end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncEngine

from postline.campaigns.database import database_call
from postline.store.tables import profiles, subscriptions

CHANNEL = "email"
_STANDARD_FIELDS = ("id", "email", "first_name", "last_name", "phone")


@dataclass(frozen=True, slots=True)
class Member:
    """One audience member: a profile and the subscription chosen for it."""

    profile_id: int
    contact: str
    subscription_status: int
    global_status: int
    # Standard fields then custom fields; a field without a value is absent.
    profile: dict[str, Any]


@database_call
async def fetch_batch(
    engine: AsyncEngine, list_id: int, as_of: datetime, after: int, size: int
) -> list[Member]:
    """Up to ``size`` members with a profile id above ``after``, in id order.

    Only subscriptions made by ``as_of`` (the launch's start) count.
    """
    sub, prof = subscriptions.c, profiles.c
    query = (
        select(
            sub.profile_id,
            sub.contact,
            sub.status,
            prof.global_status,
            prof.email,
            prof.first_name,
            prof.last_name,
            prof.phone,
            prof.fields,
        )
        .join(profiles, prof.id == sub.profile_id)
        .where(sub.list_id == list_id, sub.channel == CHANNEL, sub.profile_id > after)
        .where(sub.created_at <= as_of)
        # Said twice so the planner starts both sides of the join at ``after``.
        .where(prof.id > after)
        .ext(distinct_on(sub.profile_id))
        .order_by(sub.profile_id, sub.priority.desc(), sub.id)
        .limit(size)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()

    return [_member(row._mapping) for row in rows]


@database_call
async def count_audience(
    engine: AsyncEngine, list_id: int, as_of: datetime, through: int | None = None
) -> int:
    """How many profiles the list reaches on email, up to a profile id if given."""
    sub = subscriptions.c
    query = select(func.count(sub.profile_id.distinct())).where(
        sub.list_id == list_id, sub.channel == CHANNEL, sub.created_at <= as_of
    )
    if through is not None:
        query = query.where(sub.profile_id <= through)
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


def template_variables(member: Member, unsubscribe_url: str) -> dict[str, Any]:
    """What the templates see for a member: its fields, ``profile``, the link."""
    return {
        **member.profile,
        "profile": member.profile,
        "unsubscribe_url": unsubscribe_url,
    }


def _member(row: Any) -> Member:
    standard = {name: row[name] for name in _STANDARD_FIELDS[1:]}
    standard["id"] = row["profile_id"]
    # Standard fields win over custom fields of the same name.
    merged = (row["fields"] or {}) | standard
    profile = {name: value for name, value in merged.items() if value is not None}
    return Member(
        profile_id=row["profile_id"],
        contact=row["contact"],
        subscription_status=row["status"],
        global_status=row["global_status"],
        profile=profile,
    )
