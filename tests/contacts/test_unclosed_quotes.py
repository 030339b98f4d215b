"""A stray quote rejects its own row and swallows none of the rows after it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from conftest import unique
from contacts.conftest import WriteCsv
from postline.contacts import import_contacts
from postline.contacts.csvfile import MAX_RECORD_LINES, open_contact_file
from postline.errors import InputError
from postline.store.tables import lists, subscriptions


def rows_with_stray_quotes(tag: str, count: int, *stray: int) -> str:
    """A file of ``count`` rows; the rows numbered in ``stray`` open a quote."""
    lines = ["email,first_name"]
    for number in range(count):
        name = '"Bob' if number in stray else f"Name {number}"
        lines.append(f"q{number}.{tag}@ex.example.com,{name}")
    return "\n".join(lines) + "\n"


async def subscribed(engine: AsyncEngine, list_name: str) -> int:
    query = (
        select(func.count())
        .select_from(subscriptions.join(lists))
        .where(lists.c.name == list_name)
    )
    async with engine.connect() as conn:
        return int((await conn.scalar(query)) or 0)


async def test_a_stray_quote_rejects_its_row_and_the_rest_of_the_file_goes_in(
    engine: AsyncEngine, write_csv: WriteCsv
) -> None:
    list_name = unique("list")
    path = write_csv(rows_with_stray_quotes(unique("q"), 1000, 10))

    result = await import_contacts(engine, path, list_name)

    assert (result.accepted, len(result.rejected)) == (999, 1)
    assert result.rejected[0].line == 12
    assert result.rejected[0].reason.startswith(
        f"unclosed quote starting here (the cell runs past line {12 + MAX_RECORD_LINES}"
    )
    assert await subscribed(engine, list_name) == 999


async def test_two_stray_quotes_reject_two_rows_and_lose_none(
    engine: AsyncEngine, write_csv: WriteCsv
) -> None:
    list_name = unique("list")
    path = write_csv(rows_with_stray_quotes(unique("q"), 1000, 10, 500))

    result = await import_contacts(engine, path, list_name)

    assert [error.line for error in result.rejected] == [12, 502]
    assert result.accepted == 998
    assert await subscribed(engine, list_name) == 998


def read(write_csv: WriteCsv, text: str) -> list[tuple[int, list[str], str | None]]:
    with open_contact_file(write_csv(text)) as file:
        return [(r.line, r.cells, r.malformed) for r in file.records]


def test_a_quote_open_at_the_end_of_the_file_rejects_only_its_row(
    write_csv: WriteCsv,
) -> None:
    records = read(write_csv, 'email,note\na@x.example,"open\nb@x.example,fine\n')

    assert records == [
        (
            2,
            [],
            "unclosed quote starting here (the cell runs to line 3, the end of "
            "the file)",
        ),
        (3, ["b@x.example", "fine"], None),
    ]


def test_a_stray_quote_closed_by_another_one_swallows_no_rows(
    write_csv: WriteCsv,
) -> None:
    records = read(
        write_csv,
        'email,note\na@x.example,"Bob\nb@x.example,ok\nc@x.example,"Al"ice\n',
    )

    assert [(line, cells) for line, cells, _ in records] == [
        (2, []),
        (3, ["b@x.example", "ok"]),
        (4, ["c@x.example", "Alice"]),
    ]
    assert records[0][2] is not None
    assert records[0][2].startswith("unclosed quote starting here")


def test_a_quoted_cell_over_a_few_lines_is_still_one_cell(write_csv: WriteCsv) -> None:
    note = "\n".join(f"line {n}" for n in range(MAX_RECORD_LINES))

    records = read(write_csv, f'email,note\na@x.example,"{note}"\nb@x.example,x\n')

    assert records == [
        (2, ["a@x.example", note], None),
        (2 + MAX_RECORD_LINES, ["b@x.example", "x"], None),
    ]


def test_a_quoted_cell_over_too_many_characters_is_an_unclosed_quote(
    write_csv: WriteCsv,
) -> None:
    long = "x" * 6000

    records = read(write_csv, f'email,note\na@x.example,"{long}\n{long}"\n')

    assert [(line, cells) for line, cells, _ in records] == [(2, []), (3, [long + '"'])]


@pytest.mark.parametrize("name", ["", "   ", "news\tletter", "news\nletter"])
async def test_a_list_name_that_is_blank_or_holds_a_control_is_refused(
    engine: AsyncEngine, write_csv: WriteCsv, name: str
) -> None:
    path = write_csv("email\na@x.example\n")

    with pytest.raises(InputError, match="list name"):
        await import_contacts(engine, path, name)

    async with engine.connect() as conn:
        found = await conn.scalar(select(func.count()).where(lists.c.name == name))
    assert found == 0
