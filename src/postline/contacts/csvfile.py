"""Reading a contacts CSV file as a stream of records with their line numbers.

The file is read line by line and never held whole. Each physical line is
decoded as UTF-8 on its own, with undecodable bytes kept as lone surrogates
(``surrogateescape``), so one bad line is reported and skipped instead of
ending the import. A record's line number is the physical line it starts on,
which differs from its position when a quoted cell spans lines. Lines that
are empty or hold only empty cells are skipped, as spreadsheets write them.

Control characters are found here but judged by the caller: a cell may hold
tabs and, quoted, line breaks; any other C0 or C1 control character (a NUL,
an escape) is no text a contact has, and PostgreSQL refuses a NUL outright.
"""

from __future__ import annotations

import _csv
import csv
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from postline.errors import ImportFileError

_BOM = b"\xef\xbb\xbf"

# C0 and C1 controls and DEL, except tab, line feed and carriage return.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass(frozen=True, slots=True)
class Record:
    """One CSV record: the line it starts on and its cells, as read."""

    line: int
    cells: list[str]
    malformed: str | None = None

    def undecodable(self) -> tuple[int, int] | None:
        """(cell index, byte) of the first byte that was not UTF-8, or None."""
        for index, cell in enumerate(self.cells):
            for ch in cell:
                if "\udc80" <= ch <= "\udcff":
                    return index, ord(ch) - 0xDC00
        return None

    def control_character(self) -> int | None:
        """Index of the first cell holding a control character, or None.

        Tabs and line breaks are text; every other C0 or C1 control is not.
        """
        for index, cell in enumerate(self.cells):
            if _CONTROL.search(cell):
                return index
        return None


@dataclass(frozen=True, slots=True)
class ContactFile:
    """An open contacts file: its header record and the records after it."""

    path: Path
    header: Record
    records: Iterator[Record]


@contextmanager
def open_contact_file(path: Path) -> Iterator[ContactFile]:
    """Open ``path`` and read its header; ``ImportFileError`` if it has none."""
    with _open(path) as stream:
        reader = csv.reader(_lines(path, stream))
        records = _records(reader)
        header = next(records, None)
        if header is None:
            raise ImportFileError(f"{path}: no header row (only blank lines)")

        yield ContactFile(path, header, records)


@contextmanager
def _open(path: Path) -> Iterator[BinaryIO]:
    try:
        stream = path.open("rb")
    except FileNotFoundError as exc:
        raise ImportFileError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise ImportFileError(f"{path}: is a directory, not a file") from exc
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot be opened: {exc.strerror}") from exc

    with stream:
        if not stream.read(1):
            raise ImportFileError(f"{path}: the file is empty")

        stream.seek(0)
        yield stream


def _lines(path: Path, stream: BinaryIO) -> Iterator[str]:
    """Decoded physical lines; a read failure mid-file ends the import."""
    try:
        first = True
        for raw in stream:
            if first:
                raw = raw.removeprefix(_BOM)
                first = False
            yield raw.decode("utf-8", errors="surrogateescape")
    except OSError as exc:
        raise ImportFileError(f"{path}: read failed: {exc.strerror}") from exc


def _records(reader: _csv.Reader) -> Iterator[Record]:
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Record(start, [], f"malformed CSV: {exc}")
        else:
            if any(cell.strip() for cell in cells):
                yield Record(start, cells)

        start = reader.line_num + 1
