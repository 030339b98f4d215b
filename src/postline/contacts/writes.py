"""Writing one batch of contacts: profiles, and their subscriptions to a list.

A profile is matched by its address, case-insensitively. The file's values
replace the stored ones where the file has a value; an empty cell keeps what
is stored, and custom fields are merged into those already there. A missing
status leaves an existing subscription's status alone and makes a new one
``subscribed``.

An import never resubscribes: a subscription that is unsubscribed, complained
or hard-bounced keeps that status when the file says ``subscribed`` or
``unconfirmed``, and the row is reported as kept. Those statuses record what
the subscriber or their mailbox did; a list exported before it happened must
not undo it. The row's other values are still written.

Rows whose values are all as stored are not written at all, so importing a
file twice leaves ``updated_at`` where the first import put it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Table,
    Text,
    any_,
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from postline.contacts.results import KeptStatus
from postline.contacts.rows import Contact
from postline.store.tables import SubStatus, lists, profiles, subscriptions

CHANNEL = "email"
_PROFILE_VALUES = ("email", "phone", "first_name", "last_name", "fields")
_SUB_VALUES = ("profile_id", "contact", "status")
_SUB_KEYS = ("id", *_SUB_VALUES)

# Statuses that record that the subscriber left: an import never undoes them.
LEFT = frozenset({SubStatus.UNSUBSCRIBED, SubStatus.COMPLAINED, SubStatus.HARDBOUNCED})
# Statuses under which mail goes out, now or once the address is confirmed.
RESUBSCRIBING = frozenset({SubStatus.SUBSCRIBED, SubStatus.UNCONFIRMED})


@dataclass(frozen=True, slots=True)
class BatchCounts:
    """Accepted rows of one batch by outcome; ``kept`` in line order."""

    imported: int
    updated: int
    unchanged: int
    kept: tuple[KeptStatus, ...] = ()


async def analyze(conn: AsyncConnection) -> None:
    """Refresh the planner's statistics of the tables an import fills.

    A large import changes the tables faster than statistics follow; with
    stale ones the planner reads a whole list to find a batch's rows.
    """
    await conn.execute(text("ANALYZE profiles, subscriptions"))


async def ensure_list(conn: AsyncConnection, name: str) -> int:
    """The id of the list called ``name``, created if it does not exist."""
    await conn.execute(
        pg_insert(lists)
        .values(name=name)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    row = await conn.execute(select(lists.c.id).where(lists.c.name == name))
    return int(row.scalar_one())


async def write_contacts(
    conn: AsyncConnection, list_id: int, contacts: Sequence[Contact]
) -> BatchCounts:
    """Create or update the profiles and subscriptions of ``contacts``.

    Every contact's address must be unique within the batch. A row whose
    status was kept counts as kept whatever else it changed.
    """
    if not contacts:
        return BatchCounts(0, 0, 0)

    stored = await _stored_profiles(conn, [c.key for c in contacts])
    ids, changed = await _write_profiles(conn, contacts, stored)

    subs = await _stored_subscriptions(conn, list_id, contacts, list(stored.values()))
    changed |= await _write_subscriptions(conn, list_id, contacts, subs, ids)

    kept = _kept(contacts, subs)
    held = {k.email.lower() for k in kept}
    new = {c.key for c in contacts if c.key not in stored or c.key not in subs} - held
    updated = len(changed - new - held)
    unchanged = len(contacts) - len(new) - updated - len(kept)
    return BatchCounts(len(new), updated, unchanged, kept)


async def _write_profiles(
    conn: AsyncConnection,
    contacts: Sequence[Contact],
    stored: dict[str, dict[str, Any]],
) -> tuple[dict[str, int], set[str]]:
    """Insert new profiles and update changed ones.

    Returns every contact's profile id and the addresses whose profile changed.
    """
    ids = await _insert_profiles(conn, [c for c in contacts if c.key not in stored])
    ids |= {key: row["id"] for key, row in stored.items()}

    changes = {
        c.key: values
        for c in contacts
        if c.key in stored and (values := _profile_change(stored[c.key], c))
    }
    await _update(conn, profiles, _PROFILE_VALUES, list(changes.values()))
    return ids, set(changes)


async def _write_subscriptions(
    conn: AsyncConnection,
    list_id: int,
    contacts: Sequence[Contact],
    subs: dict[str, dict[str, Any]],
    ids: dict[str, int],
) -> set[str]:
    """Insert new subscriptions and update changed ones; the changed addresses."""
    await _insert_subscriptions(
        conn, list_id, [(c, ids[c.key]) for c in contacts if c.key not in subs]
    )

    changes = {
        c.key: values
        for c in contacts
        if c.key in subs and (values := _sub_change(subs[c.key], c, ids[c.key]))
    }
    await _update(conn, subscriptions, _SUB_VALUES, list(changes.values()))
    return set(changes)


async def _stored_profiles(
    conn: AsyncConnection, keys: list[str]
) -> dict[str, dict[str, Any]]:
    columns = [profiles.c.id, *(profiles.c[name] for name in _PROFILE_VALUES)]
    rows = await conn.execute(
        select(*columns).where(func.lower(profiles.c.email) == _any(keys))
    )
    return {row.email.lower(): dict(row._mapping) for row in rows}


async def _insert_profiles(
    conn: AsyncConnection, contacts: list[Contact]
) -> dict[str, int]:
    if not contacts:
        return {}

    params = [
        {
            "email": c.email,
            "phone": c.phone,
            "first_name": c.first_name,
            "last_name": c.last_name,
            "fields": c.fields,
        }
        for c in contacts
    ]
    stmt = insert(profiles).returning(profiles.c.id, profiles.c.email)
    rows = await conn.execute(stmt, params)
    return {email.lower(): int(pid) for pid, email in rows}


def _profile_change(row: dict[str, Any], contact: Contact) -> dict[str, Any] | None:
    """The profile's new values, or None if the contact changes nothing."""
    wanted = {
        "email": contact.email,
        "phone": contact.phone or row["phone"],
        "first_name": contact.first_name or row["first_name"],
        "last_name": contact.last_name or row["last_name"],
        "fields": {**row["fields"], **contact.fields},
    }
    if all(wanted[name] == row[name] for name in _PROFILE_VALUES):
        return None
    return {"id": row["id"], **wanted}


async def _stored_subscriptions(
    conn: AsyncConnection,
    list_id: int,
    contacts: Sequence[Contact],
    stored: list[dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """The list's email subscriptions for these addresses, by address.

    Found through the profiles (whatever the case of the stored contact) and
    through the exact addresses (a subscription still held by the address's
    former profile, which is then moved to the profile that owns it now).
    Each query has one index that fits it, so the plan holds even when the
    table's statistics are stale in the middle of a large import.
    """
    columns = [subscriptions.c[name] for name in _SUB_KEYS]
    by_profile = select(*columns).where(
        subscriptions.c.profile_id == _any([row["id"] for row in stored], BigInteger),
        # "+ 0" keeps the planner off the (list, channel, contact) index, whose
        # prefix alone would scan the whole list when statistics are stale.
        (subscriptions.c.list_id + 0) == list_id,
        subscriptions.c.channel == CHANNEL,
    )
    by_contact = select(*columns).where(
        subscriptions.c.list_id == list_id,
        subscriptions.c.channel == CHANNEL,
        subscriptions.c.contact == _any([c.email for c in contacts]),
    )
    rows = [*await conn.execute(by_profile), *await conn.execute(by_contact)]

    keys = {c.key for c in contacts}
    found: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda row: int(row.id)):
        if row.contact.lower() in keys:
            found.setdefault(row.contact.lower(), dict(row._mapping))
    return found


async def _insert_subscriptions(
    conn: AsyncConnection, list_id: int, pairs: list[tuple[Contact, int]]
) -> None:
    if not pairs:
        return

    params = [
        {
            "profile_id": profile_id,
            "list_id": list_id,
            "channel": CHANNEL,
            "contact": c.email,
            "status": int(c.status if c.status is not None else SubStatus.SUBSCRIBED),
        }
        for c, profile_id in pairs
    ]
    await conn.execute(insert(subscriptions), params)


def _sub_change(
    row: dict[str, Any], contact: Contact, profile_id: int
) -> dict[str, Any] | None:
    """The subscription's new values, or None if the contact changes nothing."""
    status = row["status"]
    if contact.status is not None and not resubscribes(status, contact.status):
        status = int(contact.status)

    wanted = {"profile_id": profile_id, "contact": contact.email, "status": status}
    if all(wanted[name] == row[name] for name in _SUB_VALUES):
        return None
    return {"id": row["id"], **wanted}


def resubscribes(stored: int, asked: SubStatus) -> bool:
    """Whether ``asked`` would send mail again to a subscriber who left."""
    return stored in LEFT and asked in RESUBSCRIBING


def _kept(
    contacts: Sequence[Contact], subs: dict[str, dict[str, Any]]
) -> tuple[KeptStatus, ...]:
    """The rows whose status the import refuses, in line order."""
    return tuple(
        KeptStatus(c.line, c.email, SubStatus(subs[c.key]["status"]), c.status)
        for c in contacts
        if c.key in subs
        and c.status is not None
        and resubscribes(subs[c.key]["status"], c.status)
    )


async def _update(
    conn: AsyncConnection,
    table: Table,
    names: Sequence[str],
    changes: list[dict[str, Any]],
) -> None:
    """Set ``names`` and ``updated_at`` on each changed row, in one round trip."""
    if not changes:
        return

    values: dict[str, Any] = {
        name: bindparam(f"new_{name}", type_=table.c[name].type) for name in names
    }
    stmt = (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values(**values, updated_at=func.now())
    )
    params = [
        {"row_id": change["id"], **{f"new_{n}": change[n] for n in names}}
        for change in changes
    ]
    await conn.execute(stmt, params)


def _any(values: Sequence[object], type_: Any = Text) -> ColumnElement[Any]:
    """``= ANY(array)``: one parameter, so the statement is the same every batch."""
    return any_(bindparam(None, list(values), type_=ARRAY(type_)))
