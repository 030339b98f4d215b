"""``postline contacts``: importing profiles and subscriptions.

``import`` prints each rejected row as ``FILE:LINE: reason`` on stderr, so a
run can be grepped, each row whose status it kept (an import never
resubscribes) as ``FILE:LINE: kept status …``, and the summary on stdout. It
exits 0 when the file was read, rejected rows or not, and 2 when the file
could not be read at all.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TextIO

import typer

from postline.contacts import (
    ImportResult,
    KeepHandler,
    KeptStatus,
    RejectHandler,
    RowError,
    import_contacts,
)
from postline.contacts.csvfile import open_contact_file
from postline.contacts.importer import check_list_name
from postline.contacts.rows import Header
from postline.errors import InputError
from postline.settings import get_settings
from postline.store.db import make_engine

app = typer.Typer(help="Profiles, lists and subscriptions.", no_args_is_help=True)


@app.command("import")
def import_(
    file: Annotated[
        Path, typer.Argument(metavar="FILE.csv", help="CSV file with a header row.")
    ],
    list_name: Annotated[
        str,
        typer.Option(
            "--list", metavar="NAME", help="List to subscribe to; made if missing."
        ),
    ],
    errors: Annotated[
        Path | None,
        typer.Option(
            "--errors",
            metavar="FILE.csv",
            help="Write rejected rows, with line and reason, to this CSV.",
        ),
    ] = None,
) -> None:
    """Import contacts from FILE into profiles subscribed to a list."""
    check_list_name(list_name)
    with _reject_handler(file, errors) as on_reject:
        result = asyncio.run(_import(file, list_name, on_reject, _keep_handler(file)))

    typer.echo(summary(file, list_name, result))


def summary(file: Path, list_name: str, result: ImportResult) -> str:
    """The one-line summary of an import."""
    kept = f"kept {result.kept}"
    if result.kept:
        kept += (
            " (status not changed: the subscriber unsubscribed, complained"
            " or hard-bounced)"
        )
    return (
        f"{file}: list {list_name}: imported {result.imported}, "
        f"updated {result.updated}, unchanged {result.unchanged}, {kept}, "
        f"rejected {len(result.rejected)}"
    )


async def _import(
    file: Path, list_name: str, on_reject: RejectHandler, on_keep: KeepHandler
) -> ImportResult:
    engine = make_engine(get_settings().database_url)
    try:
        return await import_contacts(
            engine, file, list_name, on_reject=on_reject, on_keep=on_keep
        )
    finally:
        await engine.dispose()


def _keep_handler(file: Path) -> KeepHandler:
    """Reports each row whose status was kept as one line on stderr."""

    def on_keep(kept: KeptStatus) -> None:
        typer.echo(
            f"{file}:{kept.line}: kept status {kept.status.name.lower()} for "
            f"{kept.email} (an import never resubscribes)",
            err=True,
        )

    return on_keep


@contextmanager
def _reject_handler(file: Path, errors: Path | None) -> Iterator[RejectHandler]:
    """Reports each rejected row on stderr and, if asked, in the errors file."""
    # Read first, so a file-level error leaves no errors file behind.
    names = _header(file) if errors is not None else []
    with _errors_file(errors) as out:
        writer = csv.writer(out) if out is not None else None
        if writer is not None:
            writer.writerow(["line", "reason", *names])

        def on_reject(error: RowError, cells: Sequence[str]) -> None:
            typer.echo(f"{file}:{error.line}: {error.reason}", err=True)
            if writer is None:
                return

            try:
                writer.writerow([error.line, error.reason, *map(_printable, cells)])
            except OSError as exc:
                raise InputError(
                    f"{errors}: cannot write the errors file: {exc}"
                ) from exc

        yield on_reject


@contextmanager
def _errors_file(path: Path | None) -> Iterator[TextIO | None]:
    if path is None:
        yield None
        return

    try:
        out = path.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise InputError(f"{path}: cannot write the errors file: {exc}") from exc

    with out:
        yield out


def _header(file: Path) -> list[str]:
    """The file's column names, to head the errors file's copies of its rows."""
    with open_contact_file(file) as contacts:
        Header.read(contacts)
        return [_printable(cell) for cell in contacts.header.cells]


def _printable(cell: str) -> str:
    """A cell with its undecodable bytes shown as U+FFFD, so it can be saved."""
    return cell.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
