"""The campaign log: milestones of a launch and per-recipient entries.

Levels are the workflow's (DEBUG, INFO, WARNING, ERROR); ``state`` is
"start" or "end" for the milestones and empty otherwise. The run writes
entries (``entry``, ``write``); operators read them (``read_log``).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from postline.campaigns.database import database_call
from postline.errors import NotFoundError
from postline.store.tables import campaign_log, campaigns, launches

DEBUG = "DEBUG"
INFO = "INFO"
WARNING = "WARNING"
ERROR = "ERROR"
LEVELS = (DEBUG, INFO, WARNING, ERROR)


def entry(
    campaign_id: int,
    launch_id: int,
    level: str,
    message: str,
    *,
    state: str = "",
    value: str | None = None,
    message_id: str | None = None,
    profile_id: int | None = None,
) -> dict[str, Any]:
    """One campaign-log row, ready to insert."""
    return {
        "campaign_id": campaign_id,
        "launch_id": launch_id,
        "level": level,
        "state": state,
        "message": message,
        "value": value,
        "message_id": message_id,
        "profile_id": profile_id,
    }


async def write(conn: AsyncConnection, entries: list[dict[str, Any]]) -> None:
    """Insert entries in the caller's transaction."""
    if entries:
        await conn.execute(insert(campaign_log), entries)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One entry as an operator reads it."""

    time: datetime
    level: str
    state: str
    message: str
    value: str | None
    message_id: str | None
    profile_id: int | None

    def line(self) -> str:
        """Time (UTC), level, state, message, then value, message and profile id.

        The last three appear only when set, as ``key=value``.
        """
        stamp = self.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        line = f"{stamp}Z  {self.level:<7}  {self.state:<5}  {self.message}"
        extras = [
            ("value", self.value),
            ("message_id", self.message_id),
            ("profile_id", self.profile_id),
        ]
        for key, value in extras:
            if value is not None:
                line += f"  {key}={shlex.quote(str(value))}"
        return line

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time.astimezone(UTC).isoformat(),
            "level": self.level,
            "state": self.state,
            "message": self.message,
            "value": self.value,
            "message_id": self.message_id,
            "profile_id": self.profile_id,
        }


@dataclass(frozen=True, slots=True)
class LogPage:
    """The entries of one launch that were asked for, oldest first."""

    launch_id: int
    entries: list[LogEntry]
    # Entries that matched but were left out by the limit.
    more: int


@database_call
async def read_log(
    engine: AsyncEngine,
    campaign_id: int,
    *,
    launch_id: int | None = None,
    level: str | None = None,
    limit: int | None = None,
) -> LogPage:
    """A launch's log entries (the latest launch by default), oldest first.

    ``level`` keeps that level and the more severe ones; ``limit`` keeps the
    first entries (None: all of them). Raises ``NotFoundError`` for a missing
    campaign, a launch of another campaign, or a campaign never launched.
    """
    log = campaign_log.c
    async with engine.connect() as conn:
        launch = await _launch_id(conn, campaign_id, launch_id)
        query = (
            select(
                log.created_at,
                log.level,
                log.state,
                log.message,
                log.value,
                log.message_id,
                log.profile_id,
                func.count().over().label("matched"),
            )
            .where(log.campaign_id == campaign_id, log.launch_id == launch)
            .order_by(log.id)
            .limit(limit)
        )
        if level is not None:
            query = query.where(log.level.in_(LEVELS[LEVELS.index(level) :]))
        rows = (await conn.execute(query)).all()

    entries = [LogEntry(*row[:7]) for row in rows]
    matched = int(rows[0].matched) if rows else 0
    return LogPage(launch, entries, more=matched - len(entries))


async def _launch_id(
    conn: AsyncConnection, campaign_id: int, launch_id: int | None
) -> int:
    """The launch asked for, or the campaign's latest; ``NotFoundError`` if none."""
    exists = select(campaigns.c.id).where(campaigns.c.id == campaign_id)
    if (await conn.execute(exists)).first() is None:
        raise NotFoundError(f"campaign {campaign_id} does not exist")

    query = select(func.max(launches.c.id)).where(launches.c.campaign_id == campaign_id)
    if launch_id is not None:
        query = query.where(launches.c.id == launch_id)
    found = await conn.scalar(query)
    if found is not None:
        return int(found)

    if launch_id is not None:
        raise NotFoundError(f"campaign {campaign_id} has no launch {launch_id}")
    raise NotFoundError(f"campaign {campaign_id} has not been launched")
