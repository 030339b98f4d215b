"""Launches: opening, resuming and finishing one run of a campaign.

A launch is ``running`` until its last batch is published, then
``finished``. A run resumes the campaign's running launch if there is one
(a crashed run leaves it so); a finished launch is launched anew only when
asked. One process at a time runs a campaign: a PostgreSQL advisory lock,
released by the server when the process dies, keeps a second one out.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from postline.campaigns import campaign_log
from postline.campaigns.database import database_call
from postline.campaigns.rules import TEMPLATE_ERROR
from postline.campaigns.summary import ledger_counts
from postline.errors import StateError, StoreError
from postline.store.tables import launches

log = logging.getLogger(__name__)

RUNNING = "running"
FINISHED = "finished"

# First key of the two-key advisory lock: "campaign runs", in ASCII "PLCR".
_LOCK_SPACE = 0x504C4352


@dataclass(frozen=True, slots=True)
class Launch:
    """The launch a run works on, as it stood when the run began."""

    id: int
    campaign_id: int
    # Highest profile id whose message is confirmed published (0: none yet).
    published_through: int
    resumed: bool
    # The audience is the list as it stood at this instant: members who
    # subscribe later wait for the next launch.
    started_at: datetime


@asynccontextmanager
async def campaign_lock(engine: AsyncEngine, campaign_id: int) -> AsyncIterator[None]:
    """Hold the campaign's run lock, or raise ``StateError`` if another holds it."""
    conn = await _lock(engine, campaign_id)
    try:
        yield
    except BaseException:
        # The body's error is the one to report. If the database is gone, the
        # server released the lock with the session anyway.
        with suppress(StoreError):
            await _unlock(conn, campaign_id)
        raise

    await _unlock(conn, campaign_id)


@database_call
async def _lock(engine: AsyncEngine, campaign_id: int) -> AsyncConnection:
    """A connection that holds the campaign's lock, for as long as it is open."""
    conn = await engine.connect()
    taken = False
    try:
        taken = bool(
            await conn.scalar(
                text("select pg_try_advisory_lock(:space, :id)"),
                {"space": _LOCK_SPACE, "id": campaign_id},
            )
        )
        # The lock belongs to the session, not the transaction: end the
        # transaction so the connection does not sit idle inside one.
        await conn.commit()
    finally:
        if not taken:
            await conn.close()

    if not taken:
        raise StateError(f"campaign {campaign_id} is being run by another process")
    return conn


@database_call
async def _unlock(conn: AsyncConnection, campaign_id: int) -> None:
    try:
        await conn.execute(
            text("select pg_advisory_unlock(:space, :id)"),
            {"space": _LOCK_SPACE, "id": campaign_id},
        )
        await conn.commit()
    finally:
        await conn.close()


@database_call
async def open_launch(engine: AsyncEngine, campaign_id: int, *, again: bool) -> Launch:
    """Resume the running launch, or start a new one; logs "Begin campaign".

    Without ``again``, a campaign whose last launch finished is refused.
    """
    async with engine.begin() as conn:
        running = await _running_launch(conn, campaign_id)
        if running is not None:
            launch = Launch(
                id=running["id"],
                campaign_id=campaign_id,
                published_through=running["published_through"],
                resumed=True,
                started_at=running["started_at"],
            )
        else:
            await _refuse_relaunch(conn, campaign_id, again)
            row = (
                await conn.execute(
                    insert(launches)
                    .values(campaign_id=campaign_id, status=RUNNING)
                    .returning(launches.c.id, launches.c.started_at)
                )
            ).one()
            launch = Launch(
                int(row.id), campaign_id, 0, resumed=False, started_at=row.started_at
            )

        await campaign_log.write(conn, [_begin_entry(launch)])

    log.info(
        "launch_opened campaign_id=%d launch_id=%d resumed=%s published_through=%d",
        campaign_id,
        launch.id,
        launch.resumed,
        launch.published_through,
    )
    return launch


@database_call
async def mark_published(engine: AsyncEngine, launch_id: int, through: int) -> None:
    """Record that every message up to profile id ``through`` is confirmed."""
    async with engine.begin() as conn:
        await conn.execute(
            update(launches)
            .where(launches.c.id == launch_id)
            .values(
                published_through=func.greatest(launches.c.published_through, through)
            )
        )


@database_call
async def finish_launch(
    engine: AsyncEngine, launch: Launch, end_entry: dict[str, Any]
) -> None:
    """Mark the launch finished and log the end, in one transaction."""
    async with engine.begin() as conn:
        await conn.execute(
            update(launches)
            .where(launches.c.id == launch.id)
            .values(status=FINISHED, finished_at=func.now())
        )
        await campaign_log.write(conn, [end_entry])


async def _running_launch(conn: AsyncConnection, campaign_id: int) -> Any:
    query = (
        select(launches.c.id, launches.c.published_through, launches.c.started_at)
        .where(launches.c.campaign_id == campaign_id, launches.c.status == RUNNING)
        .order_by(launches.c.id.desc())
        .limit(1)
    )
    row = (await conn.execute(query)).first()
    return None if row is None else row._mapping


async def _refuse_relaunch(
    conn: AsyncConnection, campaign_id: int, again: bool
) -> None:
    """Refuse to launch anew without ``again``, saying what the last launch did."""
    query = (
        select(launches.c.id, launches.c.finished_at)
        .where(launches.c.campaign_id == campaign_id)
        .order_by(launches.c.id.desc())
        .limit(1)
    )
    last = (await conn.execute(query)).first()
    if last is None or again:
        return

    queued, skipped = await ledger_counts(conn, last.id)
    when = f" at {last.finished_at:%Y-%m-%d %H:%M:%S %Z}" if last.finished_at else ""
    outcome = _outcome(queued, skipped)
    if queued:
        raise StateError(
            f"campaign {campaign_id} was already sent: launch {last.id} "
            f"finished{when} ({outcome}); run it with --again to send it once more"
        )

    # Nothing went out, so "already sent" would mislead: say what to fix.
    errors = ""
    if skipped.get(TEMPLATE_ERROR):
        command = f"postline campaign log {campaign_id} --level ERROR"
        errors = f"the template errors are in `{command}`; "
    raise StateError(
        f"campaign {campaign_id}: launch {last.id} finished{when} with nothing "
        f"queued ({outcome}); {errors}run it with --again to launch it again, "
        "or create a new campaign from a corrected file"
    )


def _outcome(queued: int, skipped: dict[str, int]) -> str:
    """E.g. ``0 queued, 4 skipped: template_error 4``."""
    line = f"{queued} queued, {sum(skipped.values())} skipped"
    if skipped:
        line += ": " + ", ".join(f"{r} {n}" for r, n in sorted(skipped.items()))
    return line


def _begin_entry(launch: Launch) -> dict[str, Any]:
    value = f"resumed launch {launch.id}" if launch.resumed else None
    return campaign_log.entry(
        launch.campaign_id,
        launch.id,
        campaign_log.INFO,
        "Begin campaign",
        state="start",
        value=value,
    )
