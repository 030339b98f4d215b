"""Reading a contacts file: header checks, line numbers, statuses (no database)."""

from __future__ import annotations

import pytest

from contacts.conftest import WriteCsv
from postline.contacts.csvfile import Record, open_contact_file
from postline.contacts.results import RowError
from postline.contacts.rows import Contact, Header, parse_row, parse_status
from postline.errors import ImportFileError
from postline.store.tables import SubStatus


def read_header(path_text: str | bytes, write_csv: WriteCsv) -> Header:
    with open_contact_file(write_csv(path_text)) as file:
        return Header.read(file)


def test_header_names_are_trimmed_and_compared_without_case(
    write_csv: WriteCsv,
) -> None:
    header = read_header(" Email ,FIRST_NAME,Loyalty Tier\n", write_csv)

    assert header.names == ("email", "first_name", "loyalty tier")
    assert header.custom == ("loyalty tier",)


def test_a_byte_order_mark_before_the_header_is_ignored(write_csv: WriteCsv) -> None:
    header = read_header(b"\xef\xbb\xbfemail,phone\r\n", write_csv)

    assert header.names == ("email", "phone")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("\n\n  \n", "no header row"),
        ("first_name,phone\nAna,+351912345678\n", "no 'email' column"),
        ("ana@example.com,Ana\n", "the first row holds an address"),
        ("email,,phone\n", "column 2 has no name"),
        ("email,City,city\n", "column 'city' appears twice (columns 2 and 3)"),
        (b"email,Pr\xe9nom\n", "not UTF-8"),
        ("email,ci\x00ty\n", "column 2 has a control character in its name"),
    ],
)
def test_a_bad_header_is_a_file_level_error_naming_the_file(
    write_csv: WriteCsv, content: str | bytes, message: str
) -> None:
    with pytest.raises(ImportFileError) as caught:
        read_header(content, write_csv)

    assert message in str(caught.value)
    assert "contacts-1.csv" in str(caught.value)


def test_records_carry_the_physical_line_they_start_on(write_csv: WriteCsv) -> None:
    path = write_csv(
        '\nemail,note\nana@example.com,"two\nlines"\n\n,,\nbo@example.com,one line\n'
    )

    with open_contact_file(path) as file:
        lines = [file.header.line, *(record.line for record in file.records)]

    assert lines == [2, 3, 7]


def test_undecodable_bytes_are_found_by_cell_and_value(write_csv: WriteCsv) -> None:
    path = write_csv(b"email,first_name\nana@example.com,Jos\xe9\n")

    with open_contact_file(path) as file:
        record = next(file.records)

    assert record.undecodable() == (1, 0xE9)


def test_a_nul_read_from_the_file_is_kept_in_its_cell(write_csv: WriteCsv) -> None:
    path = write_csv(b'email,first_name\nana@example.com,"An\x00a"\n')

    with open_contact_file(path) as file:
        record = next(file.records)

    assert record.cells == ["ana@example.com", "An\x00a"]
    assert record.control_character() == 1


CONTACT_HEADER = Header(("email", "first_name", "city"))


@pytest.mark.parametrize(
    ("cells", "column"),
    [
        (["ana@example.com", "An\x00a", ""], "first_name"),
        (["ana\x00@example.com", "Ana", ""], "email"),
        (["ana@example.com", "Ana", "Lis\x1bboa"], "city"),
        (["ana@example.com", "Ana\x7f", ""], "first_name"),
        (["ana@example.com", "Ana", "\x85"], "city"),
        (["ana@example.com", "Ana", "", "\x00"], "?"),
    ],
)
def test_a_control_character_in_any_cell_rejects_the_row(
    cells: list[str], column: str
) -> None:
    row = parse_row(CONTACT_HEADER, Record(7, cells))

    assert row == RowError(7, f"control character in column {column}")


def test_tabs_and_line_breaks_in_a_cell_are_text() -> None:
    cells = ["ana@example.com", "Ana\tMaria", "Lisboa\r\nPortugal"]

    row = parse_row(CONTACT_HEADER, Record(2, cells))

    assert isinstance(row, Contact)
    assert (row.first_name, row.fields) == (
        "Ana\tMaria",
        {"city": "Lisboa\r\nPortugal"},
    )


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("subscribed", SubStatus.SUBSCRIBED),
        (" Unsubscribed ", SubStatus.UNSUBSCRIBED),
        ("COMPLAINED", SubStatus.COMPLAINED),
        ("3", SubStatus.HARDBOUNCED),
        ("unconfirmed", SubStatus.UNCONFIRMED),
        ("5", SubStatus.SUSPENDED),
        ("invalid", SubStatus.INVALID),
    ],
)
def test_statuses_are_read_from_words_and_codes(value: str, status: SubStatus) -> None:
    assert parse_status(value) is status


@pytest.mark.parametrize("value", ["active", "7", "-1", "sub"])
def test_unknown_statuses_are_refused(value: str) -> None:
    with pytest.raises(ValueError):
        parse_status(value)
