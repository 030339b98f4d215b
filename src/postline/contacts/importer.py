"""Importing a contacts CSV file into profiles and subscriptions to one list.

The file is streamed in batches, one transaction each (1,000 rows by
default), so its size is bounded by disk, not memory. A row that fails a
check is rejected with its line and reason and the import goes on; a file
that cannot be read at all raises ``ImportFileError`` before anything is
written. A row that would resubscribe somebody who unsubscribed, complained
or hard-bounced is written without its status and reported as kept. See
``rows`` for the checks and ``writes`` for what a row changes.

A database failure raises ``StoreError`` naming the step or the batch's
lines and PostgreSQL's reason; it never carries the statement or its
parameters, which hold the file's addresses and names.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from itertools import islice
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from postline.contacts.claims import claim, close_claims, open_claims
from postline.contacts.csvfile import Record, open_contact_file
from postline.contacts.results import ImportResult, KeptStatus, RowError
from postline.contacts.rows import Contact, Flawed, Header, parse_row
from postline.contacts.writes import (
    BatchCounts,
    analyze,
    ensure_list,
    write_contacts,
)
from postline.errors import InputError, StoreError

log = logging.getLogger(__name__)

BATCH_SIZE = 1000

# Rows imported after which the planner's statistics are first refreshed; the
# mark doubles each time, so a million rows cost about ten refreshes.
FIRST_ANALYZE = 2000

# C0 and C1 controls and DEL: a list name is shown on one line in reports.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# Called with each rejected row and its cells as read, in line order.
RejectHandler = Callable[[RowError, Sequence[str]], None]

# Called with each row whose status was kept, in line order.
KeepHandler = Callable[[KeptStatus], None]


async def import_contacts(
    engine: AsyncEngine,
    path: Path,
    list_name: str,
    *,
    batch_size: int = BATCH_SIZE,
    on_reject: RejectHandler | None = None,
    on_keep: KeepHandler | None = None,
) -> ImportResult:
    """Import ``path`` into the list ``list_name``, creating the list if needed.

    ``batch_size`` is rows per transaction. ``on_reject`` sees each rejected
    row and ``on_keep`` each row whose status was kept once its batch is done,
    the two together in line order, for callers that report them as they go.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")

    check_list_name(list_name)

    started = time.monotonic()
    result = ImportResult()
    with open_contact_file(path) as file:
        header = Header.read(file)
        async with _connection(engine) as conn:
            async with _transaction(conn, "creating the list"):
                list_id = await ensure_list(conn, list_name)
                await open_claims(conn)

            analyze_at = FIRST_ANALYZE
            for number, records in enumerate(_batches(file.records, batch_size), 1):
                batch_started = time.monotonic()
                async with _transaction(conn, f"on {_lines(records)}"):
                    counts, errors = await _import_batch(conn, list_id, header, records)

                _add(result, counts, errors)
                _report(errors, counts.kept, on_reject, on_keep)
                _log_batch(list_name, number, records, counts, errors, batch_started)
                if result.imported >= analyze_at:
                    where = f"refreshing statistics after line {records[-1].line}"
                    async with _transaction(conn, where):
                        await analyze(conn)
                    analyze_at = 2 * result.imported

            async with _transaction(conn, "finishing"):
                await close_claims(conn)

    log.info(
        "file=%s list=%s imported=%d updated=%d unchanged=%d kept=%d rejected=%d "
        "elapsed=%.2fs",
        path,
        list_name,
        result.imported,
        result.updated,
        result.unchanged,
        result.kept,
        len(result.rejected),
        time.monotonic() - started,
    )
    return result


def check_list_name(name: str) -> None:
    """``InputError`` unless ``name`` is text after trimming, with no control."""
    if not name.strip():
        raise InputError("a list name must not be empty or only spaces")

    if _CONTROL.search(name):
        raise InputError(
            f"list name {name!r} holds a control character (a tab, a line break)"
        )


async def _import_batch(
    conn: AsyncConnection, list_id: int, header: Header, records: list[Record]
) -> tuple[BatchCounts, list[tuple[RowError, Record]]]:
    """Check, claim and write one batch; its rejected rows in line order."""
    errors: list[tuple[RowError, Record]] = []
    candidates: list[tuple[Contact | Flawed, Record]] = []
    for record in records:
        row = parse_row(header, record)
        if isinstance(row, RowError):
            errors.append((row, record))
        else:
            candidates.append((row, record))

    # The first line of each address in this batch, unless an earlier batch had it.
    first: dict[str, int] = {}
    for row, _ in candidates:
        first.setdefault(row.key, row.line)
    first |= await claim(conn, first)

    contacts: list[Contact] = []
    for row, record in candidates:
        if first[row.key] != row.line:
            reason = f"duplicate email {row.key!r}: first on line {first[row.key]}"
            errors.append((RowError(row.line, reason), record))
        elif isinstance(row, Flawed):
            errors.append((RowError(row.line, row.reason), record))
        else:
            contacts.append(row)

    counts = await write_contacts(conn, list_id, contacts)
    errors.sort(key=lambda pair: pair[0].line)
    return counts, errors


def _add(
    result: ImportResult, counts: BatchCounts, errors: list[tuple[RowError, Record]]
) -> None:
    result.imported += counts.imported
    result.updated += counts.updated
    result.unchanged += counts.unchanged
    result.kept += len(counts.kept)
    result.rejected.extend(error for error, _ in errors)


def _report(
    errors: list[tuple[RowError, Record]],
    kept: Sequence[KeptStatus],
    on_reject: RejectHandler | None,
    on_keep: KeepHandler | None,
) -> None:
    """Hand a batch's rejected and kept rows to the handlers, in line order."""
    notices: list[tuple[RowError, Record] | KeptStatus] = [*errors, *kept]
    for notice in sorted(notices, key=_line):
        if isinstance(notice, KeptStatus):
            if on_keep is not None:
                on_keep(notice)
        elif on_reject is not None:
            on_reject(notice[0], notice[1].cells)


def _line(notice: tuple[RowError, Record] | KeptStatus) -> int:
    return notice.line if isinstance(notice, KeptStatus) else notice[0].line


def _log_batch(
    list_name: str,
    number: int,
    records: list[Record],
    counts: BatchCounts,
    errors: list[tuple[RowError, Record]],
    started: float,
) -> None:
    log.info(
        "list=%s batch=%d lines=%d-%d imported=%d updated=%d unchanged=%d kept=%d "
        "rejected=%d elapsed=%.2fs",
        list_name,
        number,
        records[0].line,
        records[-1].line,
        counts.imported,
        counts.updated,
        counts.unchanged,
        len(counts.kept),
        len(errors),
        time.monotonic() - started,
    )


def _batches(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


def _lines(records: list[Record]) -> str:
    first, last = records[0].line, records[-1].line
    return f"line {first}" if first == last else f"lines {first}-{last}"


@asynccontextmanager
async def _connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One connection for the whole import, with database errors translated.

    The connection holds the temporary table of claimed addresses; after a
    failure it is discarded rather than returned to the pool with the table.
    """
    try:
        async with engine.connect() as conn:
            try:
                yield conn
            except BaseException:
                await conn.invalidate()
                raise
    except (SQLAlchemyError, OSError) as exc:
        raise _store_error("connecting", exc) from exc


@asynccontextmanager
async def _transaction(conn: AsyncConnection, where: str) -> AsyncIterator[None]:
    """One transaction; a database failure in it is a ``StoreError`` at ``where``."""
    try:
        async with conn.begin():
            yield
    except (SQLAlchemyError, OSError) as exc:
        raise _store_error(where, exc) from exc


def _store_error(where: str, exc: SQLAlchemyError | OSError) -> StoreError:
    """The failure in one line: where it happened, and why without the data."""
    return StoreError(f"contacts import: database failed {where}: {_reason(exc)}")


def _reason(exc: SQLAlchemyError | OSError) -> str:
    """The driver's message up to its first colon, and the SQLSTATE if any.

    SQLAlchemy's own message appends the statement and every parameter, and
    PostgreSQL and asyncpg put an offending value after a colon
    (``invalid input for query argument $1: 'ana@…'``), so neither is shown.
    """
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__

    cause: BaseException = exc
    if isinstance(exc, StatementError) and exc.orig is not None:
        cause = exc.orig

    first_line = str(cause).strip().split("\n", 1)[0]
    reason = first_line.split(":", 1)[0].strip() or type(cause).__name__
    sqlstate = getattr(cause, "sqlstate", None)
    return f"{reason} (SQLSTATE {sqlstate})" if sqlstate else reason
