"""The campaign run's side of the ledger: one row per audience member.

The run only ever inserts rows (``skipped`` with a reason, or ``queued``) and
never touches a row that has moved past ``queued``: from there on the
registrar owns it. Rows and their campaign-log entries are written in one
transaction, so a crash leaves both or neither.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from postline.campaigns import campaign_log
from postline.campaigns.database import database_call
from postline.store.tables import ledger, stop_list

QUEUED = "queued"
SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class LedgerState:
    """What the ledger already holds for one message."""

    status: str
    profile_id: int


@dataclass(slots=True)
class BatchRecord:
    """What one batch writes: new rows, queued rows it gives up, log entries."""

    rows: list[dict[str, Any]]
    # Queued rows of a crashed run that can no longer be built: message id -> reason.
    given_up: dict[str, str]
    entries: list[dict[str, Any]]


@database_call
async def existing_rows(
    engine: AsyncEngine, message_ids: Iterable[str]
) -> dict[str, LedgerState]:
    """The ledger rows that already exist among these message ids."""
    query = select(ledger.c.message_id, ledger.c.status, ledger.c.profile_id).where(
        ledger.c.message_id.in_(list(message_ids))
    )
    async with engine.connect() as conn:
        rows = await conn.execute(query)
        return {row.message_id: LedgerState(row.status, row.profile_id) for row in rows}


@database_call
async def messaged_contacts(engine: AsyncEngine, launch_id: int) -> set[str]:
    """Lower-cased contacts this launch already gave a message (not skipped)."""
    query = select(func.lower(ledger.c.contact)).where(
        ledger.c.launch_id == launch_id, ledger.c.status != SKIPPED
    )
    async with engine.connect() as conn:
        result = await conn.stream_scalars(query)
        return {contact async for contact in result if contact is not None}


@database_call
async def stop_listed(engine: AsyncEngine, keys: Iterable[str]) -> set[str]:
    """Those of the lower-cased email contacts that are on the platform stop list."""
    wanted = list(keys)
    if not wanted:
        return set()

    contact = func.lower(stop_list.c.contact)
    query = select(contact).where(stop_list.c.channel == "email", contact.in_(wanted))
    async with engine.connect() as conn:
        return set((await conn.scalars(query)).all())


@database_call
async def record_batch(engine: AsyncEngine, record: BatchRecord) -> set[str]:
    """Write the batch in one transaction; returns the message ids inserted.

    Rows that exist already are left alone, and so are their log entries; a
    row given up is turned to ``skipped`` only while it is still ``queued``.
    """
    async with engine.begin() as conn:
        inserted: set[str] = set()
        if record.rows:
            stmt = (
                insert(ledger).on_conflict_do_nothing().returning(ledger.c.message_id)
            )
            inserted = set((await conn.scalars(stmt, record.rows)).all())

        changed = set(inserted)
        for message_id, reason in record.given_up.items():
            result = await conn.execute(
                update(ledger)
                .where(ledger.c.message_id == message_id, ledger.c.status == QUEUED)
                .values(status=SKIPPED, reason=reason, updated_at=func.now())
            )
            if result.rowcount:
                changed.add(message_id)

        entries = [e for e in record.entries if e["message_id"] in changed]
        await campaign_log.write(conn, entries)

    return inserted
