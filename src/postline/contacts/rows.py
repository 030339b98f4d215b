"""From CSV records to contacts: the header, and the checks on each row.

The header names the columns. ``email``, ``phone``, ``first_name``,
``last_name`` and ``status`` are standard; every other column is a custom
field, stored under its name in lower case. Names are trimmed and compared
case-insensitively.

A row's checks run in this order, the first failure rejecting it: the bytes
are UTF-8, no cell holds a control character other than a tab or a line
break, the cells match the header, the email is present and well formed, the
status is known, the phone is plausible. The address is then normalised
(its domain in ASCII lower case), so two spellings of one mailbox are one
address. A row whose address is well formed claims that address for the
file even if a later check rejects it, so "first occurrence wins" does not
depend on what else is wrong with a row.
"""

from __future__ import annotations

from dataclasses import dataclass

from postline.contacts.addresses import (
    email_problem,
    normalize_email,
    normalize_phone,
    phone_problem,
)
from postline.contacts.csvfile import ContactFile, Record
from postline.contacts.results import RowError
from postline.errors import ImportFileError
from postline.store.tables import SubStatus

STANDARD = ("email", "phone", "first_name", "last_name", "status")


@dataclass(frozen=True, slots=True)
class Contact:
    """A row that passed every check. Empty cells are None or left out."""

    line: int
    email: str
    phone: str | None
    first_name: str | None
    last_name: str | None
    status: SubStatus | None
    fields: dict[str, str]

    @property
    def key(self) -> str:
        """The address as matched: lower case."""
        return self.email.lower()


@dataclass(frozen=True, slots=True)
class Flawed:
    """A row with a well-formed address but another fault; it claims the address."""

    line: int
    key: str
    reason: str


@dataclass(frozen=True, slots=True)
class Header:
    """Column positions by lower-case name, in file order."""

    names: tuple[str, ...]

    @classmethod
    def read(cls, file: ContactFile) -> Header:
        """Check the header row; ``ImportFileError`` names what is wrong."""
        record = file.header
        where = f"{file.path}: header (line {record.line})"
        if record.malformed or record.undecodable():
            raise ImportFileError(f"{where}: {record.malformed or 'not UTF-8'}")

        control = record.control_character()
        if control is not None:
            raise ImportFileError(
                f"{where}: column {control + 1} has a control character in its name"
            )

        names = tuple(cell.strip().lower() for cell in record.cells)
        for index, name in enumerate(names):
            if not name:
                raise ImportFileError(f"{where}: column {index + 1} has no name")

            if name in names[:index]:
                first = names.index(name) + 1
                raise ImportFileError(
                    f"{where}: column {name!r} appears twice "
                    f"(columns {first} and {index + 1})"
                )

        if "email" not in names:
            raise ImportFileError(f"{where}: {_missing_email(record)}")

        return cls(names)

    @property
    def custom(self) -> tuple[str, ...]:
        """Names of the custom-field columns."""
        return tuple(name for name in self.names if name not in STANDARD)


def parse_status(value: str) -> SubStatus:
    """A status from its word or code (``subscribed``, ``0``), else ValueError."""
    word = value.strip().lower()
    if word.isdigit():
        return SubStatus(int(word))

    try:
        return SubStatus[word.upper()]
    except KeyError:
        raise ValueError(word) from None


def parse_row(header: Header, record: Record) -> Contact | Flawed | RowError:
    """Check one record against the header."""
    if record.malformed:
        return RowError(record.line, record.malformed)

    bad = record.undecodable()
    if bad is not None:
        column = _column(header, bad[0])
        return RowError(
            record.line, f"not valid UTF-8 (byte 0x{bad[1]:02X} in column {column})"
        )

    control = record.control_character()
    if control is not None:
        column = _column(header, control)
        return RowError(record.line, f"control character in column {column}")

    if len(record.cells) != len(header.names):
        return RowError(
            record.line,
            f"wrong column count: {len(record.cells)} cells, "
            f"the header has {len(header.names)}",
        )

    return _checked(record.line, dict(zip(header.names, record.cells, strict=True)))


def _checked(line: int, row: dict[str, str]) -> Contact | Flawed | RowError:
    cells = {name: value.strip() for name, value in row.items()}
    email = cells["email"]
    if not email:
        return RowError(line, "missing email")

    problem = email_problem(email)
    if problem:
        return RowError(line, f"invalid email address {email!r}: {problem}")

    email = normalize_email(email)
    status_cell = cells.get("status", "")
    try:
        status = parse_status(status_cell) if status_cell else None
    except ValueError:
        return Flawed(line, email.lower(), _status_reason(status_cell))

    phone = cells.get("phone", "")
    problem = phone_problem(phone) if phone else None
    if problem:
        return Flawed(line, email.lower(), f"implausible phone {phone!r}: {problem}")

    return Contact(
        line=line,
        email=email,
        phone=normalize_phone(phone) if phone else None,
        first_name=cells.get("first_name") or None,
        last_name=cells.get("last_name") or None,
        status=status,
        fields={
            name: value
            for name, value in cells.items()
            if name not in STANDARD and value
        },
    )


def _column(header: Header, index: int) -> str:
    """The name of a cell's column; ``?`` for a cell beyond the header."""
    return header.names[index] if index < len(header.names) else "?"


def _status_reason(value: str) -> str:
    words = ", ".join(status.name.lower() for status in SubStatus)
    return f"invalid status {value!r}: expected one of {words} or a code 0-6"


def _missing_email(record: Record) -> str:
    if any("@" in cell for cell in record.cells):
        return "no header row: the first row holds an address, not column names"
    return "no 'email' column"
