"""Applying one batch of status events in one PostgreSQL transaction.

Steps, each one statement for the whole batch:

1. append the events to ``events``; an event id already there is a duplicate
   and goes no further (its consequences were committed with it);
2. lock the ledger rows the new events name, in message-id order so that two
   registrars never deadlock;
3. fold the events over the rows in arrival order (``rules.advance``);
4. write the moved rows with one ``UPDATE … FROM (VALUES …)``;
5. for rows that moved to a hard bounce: hardbounce the address's email
   subscriptions and add it to the stop list.

A crash anywhere before the commit leaves nothing behind, so the batch can be
applied again from the queue with the same result.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, Text, column, exists, func, literal, select, update
from sqlalchemy import values as sql_values
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from postline.bus.events import StatusEvent
from postline.registrar.rules import HARD_BOUNCE, LedgerState, advance
from postline.store.failures import translate
from postline.store.tables import SubStatus, events, ledger, stop_list, subscriptions

log = logging.getLogger(__name__)

# Event fields kept in ``events.data``; the others have columns of their own.
_DATA_FIELDS = {
    "channel",
    "contact",
    "sender_id",
    "campaign_id",
    "launch_id",
    "profile_id",
    "asynchronous",
    "next_attempt_at",
}


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one batch did. ``events = duplicates + applied + late + unknown``."""

    events: int
    duplicates: int
    applied: int
    late: int
    unknown: int
    hard_bounces: int


@dataclass(frozen=True, slots=True)
class _Row:
    state: LedgerState
    channel: str
    contact: str | None


@dataclass(slots=True)
class _Fold:
    """The outcome of folding a batch's new events over their ledger rows."""

    moved: dict[str, LedgerState] = field(default_factory=dict)
    applied: int = 0
    late: int = 0
    unknown: list[str] = field(default_factory=list)
    # Lower-cased address -> the message id whose hard bounce stop-lists it.
    bounced: dict[str, str] = field(default_factory=dict)
    hard_bounces: int = 0


async def apply_events(engine: AsyncEngine, batch: list[StatusEvent]) -> BatchResult:
    """Apply a batch in one transaction; safe to call again with the same events.

    Events of one message apply in the order given. Raises ``StoreError`` when
    PostgreSQL fails, ``DataRefusedError`` when it refuses a value; either way
    nothing of the batch is kept.
    """
    started = time.monotonic()
    fresh = _unique(batch)

    try:
        async with engine.begin() as conn:
            recorded = await _record(conn, fresh)
            new = [event for event in fresh if event.event_id in recorded]
            fold = _fold(await _lock_rows(conn, new), new)
            await _write_ledger(conn, fold.moved)
            await _hard_bounce(conn, fold.bounced)
    except (SQLAlchemyError, OSError) as exc:
        raise translate(exc, "status events not applied") from exc

    if fold.unknown:
        log.warning("unknown_messages count=%d ids=%s", len(fold.unknown), fold.unknown)

    result = BatchResult(
        events=len(batch),
        duplicates=len(batch) - len(new),
        applied=fold.applied,
        late=fold.late,
        unknown=len(fold.unknown),
        hard_bounces=fold.hard_bounces,
    )
    log.info(
        "batch events=%d applied=%d duplicates=%d unknown=%d hard_bounces=%d "
        "elapsed=%.3fs",
        result.events,
        result.applied,
        result.duplicates,
        result.unknown,
        result.hard_bounces,
        time.monotonic() - started,
    )
    return result


def _unique(batch: Iterable[StatusEvent]) -> list[StatusEvent]:
    """The batch without repeats of an event id, first occurrence kept."""
    seen: dict[str, StatusEvent] = {}
    for event in batch:
        seen.setdefault(event.event_id, event)
    return list(seen.values())


async def _record(conn: AsyncConnection, batch: Sequence[StatusEvent]) -> set[str]:
    """Append to ``events``; returns the ids that were not there yet."""
    if not batch:
        return set()

    stmt = (
        pg_insert(events)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(events.c.event_id)
    )
    # In id order, so two registrars given the same events wait, not deadlock.
    rows = sorted((_event_row(event) for event in batch), key=lambda r: r["event_id"])
    result = await conn.execute(stmt, rows)
    return set(result.scalars())


def _event_row(event: StatusEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "message_id": event.message_id,
        "status": event.status,
        "reason": event.reason,
        "reply": event.reply,
        "decision": event.decision,
        "category": event.category,
        "attempt": event.attempt,
        "data": event.model_dump(mode="json", include=_DATA_FIELDS, exclude_none=True),
        "occurred_at": event.occurred_at,
    }


async def _lock_rows(
    conn: AsyncConnection, batch: Sequence[StatusEvent]
) -> dict[str, _Row]:
    """The ledger rows the events name, locked until the commit."""
    ids = sorted({event.message_id for event in batch})
    if not ids:
        return {}

    query = (
        select(
            ledger.c.message_id,
            ledger.c.status,
            ledger.c.reason,
            ledger.c.reply,
            ledger.c.attempts,
            ledger.c.channel,
            ledger.c.contact,
        )
        .where(ledger.c.message_id.in_(ids))
        .order_by(ledger.c.message_id)
        .with_for_update()
    )
    rows = await conn.execute(query)
    return {
        row.message_id: _Row(
            state=LedgerState(row.status, row.reason, row.reply, row.attempts),
            channel=row.channel,
            contact=row.contact,
        )
        for row in rows
    }


def _fold(rows: dict[str, _Row], batch: Sequence[StatusEvent]) -> _Fold:
    """Apply the events to the rows in memory, in the order they came."""
    fold = _Fold()
    for event in batch:
        row = rows.get(event.message_id)
        if row is None:
            fold.unknown.append(event.message_id)
            continue

        current = fold.moved.get(event.message_id, row.state)
        after = advance(current, event)
        if after is None:
            fold.late += 1
            continue

        fold.moved[event.message_id] = after
        fold.applied += 1
        if after.hard_bounced:
            _note_hard_bounce(fold, row, event)
    return fold


def _note_hard_bounce(fold: _Fold, row: _Row, event: StatusEvent) -> None:
    fold.hard_bounces += 1
    if row.channel != "email":
        return

    address = row.contact or event.contact
    if not address:
        log.warning("hard_bounce_without_address message_id=%s", event.message_id)
        return

    fold.bounced.setdefault(address.strip().lower(), event.message_id)


async def _write_ledger(conn: AsyncConnection, moved: dict[str, LedgerState]) -> None:
    if not moved:
        return

    table = sql_values(
        column("message_id", Text),
        column("status", Text),
        column("reason", Text),
        column("reply", Text),
        column("attempts", Integer),
        name="moved",
    ).data(
        [
            (message_id, s.status, s.reason, s.reply, s.attempts)
            for message_id, s in moved.items()
        ]
    )
    await conn.execute(
        update(ledger)
        .where(ledger.c.message_id == table.c.message_id)
        .values(
            status=table.c.status,
            reason=table.c.reason,
            reply=table.c.reply,
            attempts=table.c.attempts,
            updated_at=func.now(),
        )
    )


async def _hard_bounce(conn: AsyncConnection, bounced: dict[str, str]) -> None:
    """Hardbounce every email subscription of the addresses; stop-list them."""
    if not bounced:
        return

    await conn.execute(
        update(subscriptions)
        .where(
            subscriptions.c.channel == "email",
            func.lower(subscriptions.c.contact).in_(list(bounced)),
            subscriptions.c.status != SubStatus.HARDBOUNCED,
        )
        .values(status=SubStatus.HARDBOUNCED, updated_at=func.now())
    )

    # An address already listed in another spelling stays listed once.
    entries = sql_values(
        column("contact", Text), column("message_id", Text), name="bounced"
    ).data(list(bounced.items()))
    listed = exists().where(
        stop_list.c.channel == "email",
        func.lower(stop_list.c.contact) == entries.c.contact,
    )
    await conn.execute(
        pg_insert(stop_list)
        .from_select(
            ["channel", "contact", "reason", "message_id"],
            select(
                literal("email", Text),
                entries.c.contact,
                literal(HARD_BOUNCE, Text),
                entries.c.message_id,
            ).where(~listed),
        )
        .on_conflict_do_nothing(index_elements=["channel", "contact"])
    )
