"""``postline report``: campaign summaries and the non-delivery report.

On a terminal the reports are rich tables; piped or redirected they are
tab-separated text, one row per line (``postline.reports.plain``).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncEngine

from postline.errors import InputError
from postline.reports import (
    campaign_report,
    campaign_report_json,
    print_campaign_report,
    print_undelivered_report,
    undelivered_report,
    undelivered_report_json,
    write_campaign_report_text,
    write_undelivered_csv,
    write_undelivered_text,
)
from postline.settings import get_settings
from postline.store.db import make_engine

app = typer.Typer(help="Reports.", no_args_is_help=True)

T = TypeVar("T")


class GroupBy(StrEnum):
    """Groups of the non-delivery report: per domain only, or per campaign too."""

    domain = "domain"
    campaign = "campaign"


@app.command()
def campaign(
    campaign_id: Annotated[int, typer.Argument(metavar="ID")],
    launch: Annotated[
        int | None, typer.Option(help="A launch id; default: the latest.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Where every audience member of a launch ended up, by status and reason."""
    report = _query(lambda engine: campaign_report(engine, campaign_id, launch))
    if as_json:
        typer.echo(campaign_report_json(report))
        return

    if _on_terminal():
        print_campaign_report(report, Console())
    else:
        write_campaign_report_text(report, sys.stdout)


@app.command()
def undelivered(
    campaign_id: Annotated[
        int | None, typer.Option("--campaign", help="Only this campaign.")
    ] = None,
    group_by: Annotated[
        str,
        typer.Option(
            "--group-by",
            metavar="domain|campaign",
            help=(
                "domain: rows by recipient domain and bounce text, campaigns "
                "together; campaign: the same, one group per campaign."
            ),
        ),
    ] = GroupBy.domain,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
) -> None:
    """Non-deliveries by recipient domain and bounce text, largest first."""
    if as_json and as_csv:
        raise InputError("choose one of --json and --csv")

    by_campaign = _group_by(group_by) is GroupBy.campaign
    rows = _query(
        lambda engine: undelivered_report(
            engine, campaign_id, group_by_campaign=by_campaign
        )
    )
    if as_json:
        typer.echo(undelivered_report_json(rows))
    elif as_csv:
        write_undelivered_csv(rows, sys.stdout)
    elif _on_terminal():
        print_undelivered_report(rows, Console())
    else:
        write_undelivered_text(rows, sys.stdout)


def _group_by(value: str) -> GroupBy:
    try:
        return GroupBy(value.lower())
    except ValueError:
        allowed = " or ".join(GroupBy)
        raise InputError(f"--group-by takes {allowed}, not {value!r}") from None


def _on_terminal() -> bool:
    """Whether stdout is a terminal; anything else gets plain text."""
    return sys.stdout.isatty()


def _query(make: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run one report query on an engine of its own."""

    async def run() -> T:
        engine = make_engine(get_settings().database_url)
        try:
            return await make(engine)
        finally:
            await engine.dispose()

    return asyncio.run(run())
