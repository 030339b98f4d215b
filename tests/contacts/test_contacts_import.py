"""Importing contacts into PostgreSQL: rejected rows, counts, idempotence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from conftest import unique
from contacts.conftest import WriteCsv
from postline.contacts import ImportResult, import_contacts
from postline.errors import ImportFileError, StoreError
from postline.store.tables import lists, profiles, subscriptions


def addresses(*names: str) -> dict[str, str]:
    """Addresses no other test uses, by short name."""
    tag = unique("imp")
    return {name: f"{name}.{tag}@example.com" for name in names}


async def dump(engine: AsyncEngine, list_name: str) -> list[dict[str, Any]]:
    """Every profile subscribed to the list, with its subscription, as stored."""
    query = (
        select(profiles, subscriptions)
        .join(subscriptions, subscriptions.c.profile_id == profiles.c.id)
        .join(lists, lists.c.id == subscriptions.c.list_id)
        .where(lists.c.name == list_name)
        .order_by(profiles.c.id)
    )
    async with engine.connect() as conn:
        return [dict(row._mapping) for row in await conn.execute(query)]


async def statuses(engine: AsyncEngine, list_name: str) -> dict[str, int]:
    return {row["email"]: row["status"] for row in await dump(engine, list_name)}


def reasons(result: ImportResult) -> list[tuple[int, str]]:
    return [(error.line, error.reason) for error in result.rejected]


async def test_each_bad_row_gives_its_line_and_reason_and_good_rows_go_in(
    engine: AsyncEngine, write_csv: WriteCsv
) -> None:
    a = addresses("ana", "bo", "cy", "di", "ed", "flo", "gus", "hal", "ida", "jo")
    list_name = unique("list")
    path = write_csv(
        (
            "email,first_name,phone,status\n"  # 1
            f"{a['ana']},Ana,,\n"  # 2
            "not-an-address,Bob,,\n"  # 3
            ",Nobody,,\n"  # 4
            f"{a['bo']},Bo,,unsubscribed\n"  # 5
            f"{a['ana'].upper()},Ana again,,\n"  # 6
            f"{a['cy']},Cy\n"  # 7
            f"{a['di']},Di,,,extra\n"  # 8
            f'{a["ed"]},"Ed\nthe second",,\n'  # 9-10
        ).encode()
        + f"{a['flo']},Flor\xe9ncia,,\n".encode("latin-1")  # 11
        + (
            f"{a['gus']},Gus,,active\n"  # 12
            f"{a['hal']},Hal,12345,\n"  # 13
            f"{a['ida']},Ida,+44 7700 900123,\n"  # 14
            f"{a['jo']},Jo,,3\n"  # 15
        ).encode()
    )

    result = await import_contacts(engine, path, list_name)

    assert [line for line, _ in reasons(result)] == [3, 4, 6, 7, 8, 11, 12, 13]
    why = dict(reasons(result))
    assert why[3] == "invalid email address 'not-an-address': has no @"
    assert why[4] == "missing email"
    assert why[6] == f"duplicate email {a['ana']!r}: first on line 2"
    assert why[7] == "wrong column count: 2 cells, the header has 4"
    assert why[8] == "wrong column count: 5 cells, the header has 4"
    assert why[11] == "not valid UTF-8 (byte 0xE9 in column first_name)"
    assert why[12].startswith("invalid status 'active': expected one of subscribed")
    assert why[13] == "implausible phone '12345': has 5 digits, expected 7 to 15"
    assert (result.imported, result.updated, result.unchanged) == (5, 0, 0)
    assert await statuses(engine, list_name) == {
        a["ana"]: 0,
        a["bo"]: 1,
        a["ed"]: 0,
        a["ida"]: 0,
        a["jo"]: 3,
    }


async def test_importing_the_same_file_twice_changes_nothing(
    engine: AsyncEngine, write_csv: WriteCsv
) -> None:
    a = addresses("ana", "bo", "cy")
    list_name = unique("list")
    path = write_csv(
        "email,first_name,last_name,phone,status,city\n"
        f"{a['ana']},Ana,Souza,+351 912 345 678,subscribed,Lisboa\n"
        f"{a['bo']},Bo,,,unsubscribed,\n"
        "broken@,X,,,,\n"
        f"{a['cy']},Cy,Li,,2,Huế\n"
        f"{a['bo']},Bo twice,,,,\n"
    )
    first = await import_contacts(engine, path, list_name)
    before = await dump(engine, list_name)

    second = await import_contacts(engine, path, list_name)

    assert (first.imported, first.updated, first.unchanged) == (3, 0, 0)
    assert (second.imported, second.updated, second.unchanged) == (0, 0, 3)
    assert reasons(second) == reasons(first)
    assert [line for line, _ in reasons(second)] == [4, 6]
    assert await dump(engine, list_name) == before


async def test_custom_columns_land_in_profile_fields(
    engine: AsyncEngine, write_csv: WriteCsv
) -> None:
    a = addresses("ana", "bo")
    list_name = unique("list")
    path = write_csv(
        "email, City ,Plan,recent_items\n"
        f"{a['ana']},Kraków,pro,Linen Shirt;Canvas Tote\n"
        f"{a['bo']},,free,\n"
    )

    await import_contacts(engine, path, list_name)

    fields = {row["email"]: row["fields"] for row in await dump(engine, list_name)}
    assert fields == {
        a["ana"]: {
            "city": "Kraków",
            "plan": "pro",
            "recent_items": "Linen Shirt;Canvas Tote",
        },
        a["bo"]: {"plan": "free"},
    }


async def test_statuses_map_from_words_and_codes_and_default_to_subscribed(
    engine: AsyncEngine, write_csv: WriteCsv
) -> None:
    a = addresses("w", "c", "m", "e", "s")
    list_name = unique("list")
    path = write_csv(
        "email,status\n"
        f"{a['w']},unsubscribed\n"
        f"{a['c']},2\n"
        f"{a['m']},Unconfirmed\n"
        f"{a['e']},\n"
        f"{a['s']}, suspended \n"
    )

    await import_contacts(engine, path, list_name)

    assert await statuses(engine, list_name) == {
        a["w"]: 1,
        a["c"]: 2,
        a["m"]: 4,
        a["e"]: 0,
        a["s"]: 5,
    }


async def test_a_changed_value_counts_as_updated_and_only_it_is_written(
    engine: AsyncEngine, write_csv: WriteCsv
) -> None:
    a = addresses("ana", "bo", "cy", "di")
    list_name = unique("list")
    header = "email,first_name,status,plan\n"
    await import_contacts(
        engine,
        write_csv(
            header
            + f"{a['ana']},Ana,subscribed,free\n"
            + f"{a['bo']},Bo,subscribed,free\n"
            + f"{a['cy']},Cy,subscribed,free\n"
        ),
        list_name,
    )
    before = {row["email"]: row for row in await dump(engine, list_name)}

    result = await import_contacts(
        engine,
        write_csv(
            header
            + f"{a['ana']},Ana Maria,subscribed,free\n"
            + f"{a['bo']},Bo,unsubscribed,free\n"
            + f"{a['cy']},Cy,subscribed,free\n"
            + f"{a['di']},Di,subscribed,pro\n"
        ),
        list_name,
    )

    after = {row["email"]: row for row in await dump(engine, list_name)}
    assert (result.imported, result.updated, result.unchanged) == (1, 2, 1)
    assert after[a["ana"]]["first_name"] == "Ana Maria"
    assert after[a["bo"]]["status"] == 1
    assert after[a["ana"]]["updated_at"] > before[a["ana"]]["updated_at"]
    assert after[a["cy"]] == before[a["cy"]]


async def test_empty_cells_and_a_missing_status_keep_what_is_stored(
    engine: AsyncEngine, write_csv: WriteCsv
) -> None:
    a = addresses("ana")
    list_name = unique("list")
    await import_contacts(
        engine,
        write_csv(f"email,phone,status,city\n{a['ana']},+1 212 555 0101,1,Oslo\n"),
        list_name,
    )

    result = await import_contacts(
        engine, write_csv(f"email,phone,city\n{a['ana']},,\n"), list_name
    )

    (row,) = await dump(engine, list_name)
    assert (result.imported, result.updated, result.unchanged) == (0, 0, 1)
    assert (row["phone"], row["status"], row["fields"]) == (
        "+12125550101",
        1,
        {"city": "Oslo"},
    )


async def test_a_profile_is_matched_by_its_address_whatever_the_case(
    engine: AsyncEngine, write_csv: WriteCsv
) -> None:
    a = addresses("ana")
    local, _, domain = a["ana"].partition("@")
    list_name = unique("list")
    await import_contacts(
        engine, write_csv(f"email\n{local.upper()}@{domain}\n"), list_name
    )

    result = await import_contacts(
        engine, write_csv(f"email\n{local}@{domain.upper()}\n"), list_name
    )

    rows = await dump(engine, list_name)
    assert (result.imported, result.updated) == (0, 1)
    assert [(row["email"], row["contact"]) for row in rows] == [(a["ana"], a["ana"])]


async def test_duplicates_are_found_across_batches(
    engine: AsyncEngine, write_csv: WriteCsv
) -> None:
    a = addresses("ana", "bo", "cy", "di", "ed")
    list_name = unique("list")
    rows = [a["ana"], a["bo"], a["cy"], a["di"], a["ed"], a["bo"], a["ana"]]
    path = write_csv("email\n" + "".join(f"{email}\n" for email in rows))

    result = await import_contacts(engine, path, list_name, batch_size=2)

    assert reasons(result) == [
        (7, f"duplicate email {a['bo']!r}: first on line 3"),
        (8, f"duplicate email {a['ana']!r}: first on line 2"),
    ]
    assert result.imported == 5


async def test_an_internationalised_domain_in_both_spellings_is_one_address(
    engine: AsyncEngine, write_csv: WriteCsv
) -> None:
    local = unique("idn")
    list_name = unique("list")
    path = write_csv(
        "email,first_name\n"
        f"{local}@Bücher.example.com,Unicode\n"
        f"{local}@xn--bcher-kva.example.com,Ascii\n"
    )

    result = await import_contacts(engine, path, list_name)

    stored = f"{local}@xn--bcher-kva.example.com"
    assert reasons(result) == [(3, f"duplicate email {stored!r}: first on line 2")]
    rows = await dump(engine, list_name)
    assert [(r["email"], r["contact"], r["first_name"]) for r in rows] == [
        (stored, stored, "Unicode")
    ]


async def test_the_ascii_spelling_of_a_known_domain_updates_the_same_profile(
    engine: AsyncEngine, write_csv: WriteCsv
) -> None:
    local = unique("idn")
    list_name = unique("list")
    await import_contacts(
        engine, write_csv(f"email\n{local}@bücher.example.com\n"), list_name
    )

    result = await import_contacts(
        engine,
        write_csv(f"email,city\n{local}@XN--BCHER-KVA.example.com,Köln\n"),
        list_name,
    )

    (row,) = await dump(engine, list_name)
    assert (result.imported, result.updated) == (0, 1)
    assert (row["contact"], row["fields"]) == (
        f"{local}@xn--bcher-kva.example.com",
        {"city": "Köln"},
    )


async def test_a_nul_byte_rejects_its_row_and_the_other_rows_go_in(
    engine: AsyncEngine, write_csv: WriteCsv
) -> None:
    a = addresses("ana", "nul", "bo")
    list_name = unique("list")
    path = write_csv(
        f"email,first_name\n{a['ana']},Ana\n{a['nul']},Nu\x00ll\n{a['bo']},Bo\n"
    )

    result = await import_contacts(engine, path, list_name)

    assert reasons(result) == [(3, "control character in column first_name")]
    assert await statuses(engine, list_name) == {a["ana"]: 0, a["bo"]: 0}


async def test_a_database_failure_names_the_batch_lines_and_none_of_its_data(
    engine: AsyncEngine, database_url: str, write_csv: WriteCsv
) -> None:
    a = addresses("ana", "bo")
    list_name = unique("list")
    await import_contacts(engine, write_csv(f"email\n{a['ana']}\n"), list_name)
    path = write_csv(f"email,first_name\n{a['bo']},Bo\n{a['ana']},Ana Maria\n")
    # The import waits for the profile a transaction holds, and gives up.
    impatient = create_async_engine(
        database_url, connect_args={"server_settings": {"lock_timeout": "200ms"}}
    )
    try:
        async with engine.begin() as holder:
            await holder.execute(
                select(profiles.c.id)
                .where(profiles.c.email == a["ana"])
                .with_for_update()
            )
            with pytest.raises(StoreError) as caught:
                await import_contacts(impatient, path, list_name)
    finally:
        await impatient.dispose()

    assert str(caught.value) == (
        "contacts import: database failed on lines 2-3: "
        "canceling statement due to lock timeout (SQLSTATE 55P03)"
    )
    assert await statuses(engine, list_name) == {a["ana"]: 0}


async def test_a_subscription_held_by_the_address_moves_to_its_new_owner(
    engine: AsyncEngine, write_csv: WriteCsv
) -> None:
    a = addresses("old", "moved")
    list_name = unique("list")
    await import_contacts(engine, write_csv(f"email\n{a['old']}\n"), list_name)
    async with engine.begin() as conn:
        await conn.execute(
            update(profiles)
            .where(profiles.c.email == a["old"])
            .values(email=a["moved"])
        )

    result = await import_contacts(engine, write_csv(f"email\n{a['old']}\n"), list_name)

    (row,) = await dump(engine, list_name)
    assert result.imported == 1
    assert (row["email"], row["contact"]) == (a["old"], a["old"])


async def test_a_missing_file_is_a_file_level_error(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    path = tmp_path / "nowhere.csv"

    with pytest.raises(ImportFileError, match=r"nowhere\.csv: no such file"):
        await import_contacts(engine, path, unique("list"))


async def test_a_file_without_an_email_column_imports_nothing(
    engine: AsyncEngine, write_csv: WriteCsv
) -> None:
    list_name = unique("list")
    path = write_csv("mail,first_name\nana@example.com,Ana\n")

    with pytest.raises(ImportFileError, match="no 'email' column"):
        await import_contacts(engine, path, list_name)

    async with engine.connect() as conn:
        made = await conn.execute(
            select(func.count()).select_from(lists).where(lists.c.name == list_name)
        )
        assert made.scalar_one() == 0
