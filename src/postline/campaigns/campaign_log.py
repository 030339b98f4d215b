"""Entries of the campaign log: milestones of a launch and per-recipient errors.

Levels are the workflow's (DEBUG, INFO, WARNING, ERROR); ``state`` is
"start" or "end" for the milestones and empty otherwise.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from postline.store.tables import campaign_log

INFO = "INFO"
ERROR = "ERROR"


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
