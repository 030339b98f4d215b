"""An import never resubscribes: unsubscribed, complained and bounced stay."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from conftest import unique
from contacts.conftest import WriteCsv
from postline.contacts import ImportResult, KeptStatus, RowError, import_contacts
from postline.store.tables import SubStatus, lists, profiles, subscriptions


def addresses(*names: str) -> dict[str, str]:
    """Addresses no other test uses, by short name."""
    tag = unique("kept")
    return {name: f"{name}.{tag}@example.com" for name in names}


async def rows(engine: AsyncEngine, list_name: str) -> dict[str, dict[str, Any]]:
    """Each subscriber of the list with its subscription, by address."""
    query = (
        select(
            profiles.c.email,
            profiles.c.first_name,
            profiles.c.fields,
            subscriptions.c.status,
            subscriptions.c.updated_at,
        )
        .join(subscriptions, subscriptions.c.profile_id == profiles.c.id)
        .join(lists, lists.c.id == subscriptions.c.list_id)
        .where(lists.c.name == list_name)
    )
    async with engine.connect() as conn:
        return {row.email: dict(row._mapping) for row in await conn.execute(query)}


async def set_status(engine: AsyncEngine, contacts: list[str], status: int) -> None:
    """Change subscriptions behind the import's back, as the registrar does."""
    async with engine.begin() as conn:
        await conn.execute(
            update(subscriptions)
            .where(subscriptions.c.contact.in_(contacts))
            .values(status=status)
        )


def counts(result: ImportResult) -> tuple[int, int, int, int, int]:
    return (
        result.imported,
        result.updated,
        result.unchanged,
        result.kept,
        len(result.rejected),
    )


async def test_reimporting_after_hard_bounces_keeps_them_and_counts_them_kept(
    engine: AsyncEngine, write_csv: WriteCsv
) -> None:
    a = addresses("ana", "bo", "cy", "di", "ed")
    list_name = unique("list")
    path = write_csv(
        "email,first_name,status\n"
        + "".join(f"{email},{name},subscribed\n" for name, email in a.items())
    )
    first = await import_contacts(engine, path, list_name)
    bounced = [a["bo"], a["di"]]
    await set_status(engine, bounced, SubStatus.HARDBOUNCED)
    before = await rows(engine, list_name)

    second = await import_contacts(engine, path, list_name)
    third = await import_contacts(engine, path, list_name)

    after = await rows(engine, list_name)
    assert counts(first) == (5, 0, 0, 0, 0)
    assert counts(second) == (0, 0, 3, 2, 0)
    assert counts(third) == counts(second)
    assert {email: row["status"] for email, row in after.items()} == {
        a["ana"]: 0,
        a["bo"]: 3,
        a["cy"]: 0,
        a["di"]: 3,
        a["ed"]: 0,
    }
    assert after == before


@pytest.mark.parametrize("stored", ["unsubscribed", "complained", "hardbounced"])
@pytest.mark.parametrize("asked", ["subscribed", "unconfirmed"])
async def test_an_import_never_moves_a_subscriber_who_left_back_in(
    engine: AsyncEngine, write_csv: WriteCsv, stored: str, asked: str
) -> None:
    a = addresses("ana")
    list_name = unique("list")
    await import_contacts(
        engine, write_csv(f"email,status\n{a['ana']},{stored}\n"), list_name
    )
    kept: list[KeptStatus] = []

    result = await import_contacts(
        engine,
        write_csv(f"email,status\n{a['ana']},{asked}\n"),
        list_name,
        on_keep=kept.append,
    )

    assert counts(result) == (0, 0, 0, 1, 0)
    assert (await rows(engine, list_name))[a["ana"]]["status"] == SubStatus[
        stored.upper()
    ]
    assert kept == [
        KeptStatus(2, a["ana"], SubStatus[stored.upper()], SubStatus[asked.upper()])
    ]


async def test_a_kept_row_still_writes_its_names_and_custom_fields(
    engine: AsyncEngine, write_csv: WriteCsv
) -> None:
    a = addresses("ana")
    list_name = unique("list")
    header = "email,first_name,status,city\n"
    await import_contacts(
        engine, write_csv(f"{header}{a['ana']},Ana,0,Oslo\n"), list_name
    )
    await set_status(engine, [a["ana"]], SubStatus.UNSUBSCRIBED)

    result = await import_contacts(
        engine, write_csv(f"{header}{a['ana']},Ana Maria,0,Bergen\n"), list_name
    )

    row = (await rows(engine, list_name))[a["ana"]]
    assert counts(result) == (0, 0, 0, 1, 0)
    assert (row["first_name"], row["fields"], row["status"]) == (
        "Ana Maria",
        {"city": "Bergen"},
        SubStatus.UNSUBSCRIBED,
    )


async def test_moving_out_of_subscribed_or_between_left_statuses_counts_as_updated(
    engine: AsyncEngine, write_csv: WriteCsv
) -> None:
    a = addresses("sub", "bounced", "paused")
    list_name = unique("list")
    await import_contacts(
        engine,
        write_csv(
            "email,status\n"
            f"{a['sub']},subscribed\n"
            f"{a['bounced']},hardbounced\n"
            f"{a['paused']},suspended\n"
        ),
        list_name,
    )

    result = await import_contacts(
        engine,
        write_csv(
            "email,status\n"
            f"{a['sub']},unsubscribed\n"
            f"{a['bounced']},unsubscribed\n"
            f"{a['paused']},subscribed\n"
        ),
        list_name,
    )

    stored = {
        email: row["status"] for email, row in (await rows(engine, list_name)).items()
    }
    assert counts(result) == (0, 3, 0, 0, 0)
    assert stored == {a["sub"]: 1, a["bounced"]: 1, a["paused"]: 0}


async def test_a_missing_status_leaves_a_subscriber_who_left_unchanged_not_kept(
    engine: AsyncEngine, write_csv: WriteCsv
) -> None:
    a = addresses("ana")
    list_name = unique("list")
    await import_contacts(engine, write_csv(f"email\n{a['ana']}\n"), list_name)
    await set_status(engine, [a["ana"]], SubStatus.COMPLAINED)

    result = await import_contacts(
        engine, write_csv(f"email,status\n{a['ana']},\n"), list_name
    )

    assert counts(result) == (0, 0, 1, 0, 0)
    assert (await rows(engine, list_name))[a["ana"]]["status"] == SubStatus.COMPLAINED


async def test_a_bounced_subscription_moving_to_a_new_profile_keeps_its_status(
    engine: AsyncEngine, write_csv: WriteCsv
) -> None:
    a = addresses("old", "moved")
    list_name = unique("list")
    await import_contacts(engine, write_csv(f"email\n{a['old']}\n"), list_name)
    await set_status(engine, [a["old"]], SubStatus.HARDBOUNCED)
    async with engine.begin() as conn:
        await conn.execute(
            update(profiles)
            .where(profiles.c.email == a["old"])
            .values(email=a["moved"])
        )

    result = await import_contacts(
        engine, write_csv(f"email,status\n{a['old']},subscribed\n"), list_name
    )

    stored = await rows(engine, list_name)
    assert counts(result) == (0, 0, 0, 1, 0)
    assert {email: row["status"] for email, row in stored.items()} == {
        a["old"]: SubStatus.HARDBOUNCED
    }


async def test_kept_and_rejected_rows_reach_their_handlers_in_line_order(
    engine: AsyncEngine, write_csv: WriteCsv
) -> None:
    a = addresses("ana", "bo", "cy")
    list_name = unique("list")
    await import_contacts(
        engine,
        write_csv(f"email,status\n{a['ana']},1\n{a['bo']},0\n{a['cy']},2\n"),
        list_name,
    )
    notices: list[int] = []

    def on_reject(error: RowError, cells: object) -> None:
        notices.append(error.line)

    def on_keep(kept: KeptStatus) -> None:
        notices.append(kept.line)

    result = await import_contacts(
        engine,
        write_csv(
            "email,status\n"
            f"{a['ana']},0\n"  # 2
            "nobody,0\n"  # 3
            f"{a['bo']},0\n"  # 4
            f"{a['cy']},4\n"  # 5
            "broken@,0\n"  # 6
        ),
        list_name,
        batch_size=10,
        on_reject=on_reject,
        on_keep=on_keep,
    )

    assert counts(result) == (0, 0, 1, 2, 2)
    assert notices == [2, 3, 5, 6]
