"""Reading a contacts CSV file as a stream of records with their line numbers.

The file is read line by line and never held whole. Each physical line is
decoded as UTF-8 on its own, with undecodable bytes kept as lone surrogates
(``surrogateescape``), so one bad line is reported and skipped instead of
ending the import. A record's line number is the physical line it starts on,
which differs from its position when a quoted cell spans lines. Lines that
are empty or hold only empty cells are skipped, as spreadsheets write them.

A quoted cell may span lines, but not without end: one still open after
``MAX_RECORD_LINES`` physical lines or ``MAX_RECORD_CHARS`` characters, or at
the end of the file, is an unclosed quote. So is a record over several lines
that the parser cannot read (a stray quote closed by another one, with text
after it). Its first line is rejected and reading resumes at the next line,
so the rows the quote swallowed are read as rows of their own.

Control characters are found here but judged by the caller: a cell may hold
tabs and, quoted, line breaks; any other C0 or C1 control character (a NUL,
an escape) is no text a contact has, and PostgreSQL refuses a NUL outright.
"""

from __future__ import annotations

import csv
import re
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from postline.errors import ImportFileError

_BOM = b"\xef\xbb\xbf"

# Bounds on one record read over several lines: past them an open quote is
# taken for a stray one. Legitimate multi-line cells (an address, a note) are
# a few lines long.
MAX_RECORD_LINES = 20
MAX_RECORD_CHARS = 10_000

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
        records = _records(_LineSource(_lines(path, stream)))
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


class _Unclosed(Exception):
    """A record's quoted cell is still open past the bounds."""


class _LineSource:
    """Numbered physical lines for the parser, with lines put back to re-read.

    ``taken`` holds the lines of the record being read, so that a record
    abandoned for an unclosed quote can hand all but its first line back.
    """

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self._number = 0
        self._returned: deque[tuple[int, str]] = deque()
        self.taken: list[tuple[int, str]] = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self._returned:
            number, text = self._returned.popleft()
        else:
            text = next(self._lines)
            self._number += 1
            number = self._number

        self.taken.append((number, text))
        if len(self.taken) > 1 and (
            len(self.taken) > MAX_RECORD_LINES
            or sum(len(line) for _, line in self.taken) > MAX_RECORD_CHARS
        ):
            raise _Unclosed

        return text

    def start_record(self) -> None:
        """Forget the lines of the record just read."""
        self.taken = []

    def put_back_all_but_first(self) -> None:
        """Re-read the record's lines after its first, before any others."""
        self._returned.extendleft(reversed(self.taken[1:]))
        self.taken = self.taken[:1]


def _records(source: _LineSource) -> Iterator[Record]:
    # Strict, so that a quote closed with text after it fails instead of
    # gluing the lines between two stray quotes into one cell.
    reader = csv.reader(source, strict=True)
    while True:
        source.start_record()
        try:
            cells = next(reader)
        except StopIteration:
            return
        except _Unclosed:
            last = source.taken[-1][0]
            yield _unclosed(
                source,
                f"the cell runs past line {last}, more than {MAX_RECORD_LINES} "
                f"lines or {MAX_RECORD_CHARS:,} characters",
            )
        except csv.Error as exc:
            yield _unreadable(source, exc)
        else:
            if any(cell.strip() for cell in cells):
                yield Record(source.taken[0][0], cells)


def _unreadable(source: _LineSource, exc: csv.Error) -> Record:
    """A record the strict parser refused: an unclosed quote, or a bad line."""
    last = source.taken[-1][0]
    if str(exc) == "unexpected end of data":
        return _unclosed(source, f"the cell runs to line {last}, the end of the file")

    if len(source.taken) > 1:
        return _unclosed(source, f"the cell runs to line {last}, then: {exc}")

    # One line with text after a closing quote: read it leniently, as before.
    number, text = source.taken[0]
    try:
        return Record(number, next(csv.reader([text])))
    except csv.Error as lenient:
        return Record(number, [], f"malformed CSV: {lenient}")


def _unclosed(source: _LineSource, runs: str) -> Record:
    """The record's first line, rejected; the lines after it are read again."""
    start = source.taken[0][0]
    source.put_back_all_but_first()
    return Record(start, [], f"unclosed quote starting here ({runs})")
