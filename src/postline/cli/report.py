"""``postline report``: campaign summaries and the non-delivery report."""

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
    write_undelivered_csv,
)
from postline.settings import get_settings
from postline.store.db import make_engine

app = typer.Typer(help="Reports.", no_args_is_help=True)

T = TypeVar("T")


class GroupBy(StrEnum):
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

    print_campaign_report(report, Console())


@app.command()
def undelivered(
    campaign_id: Annotated[
        int | None, typer.Option("--campaign", help="Only this campaign.")
    ] = None,
    group_by: Annotated[
        GroupBy | None, typer.Option("--group-by", help="One group per campaign.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
) -> None:
    """Non-deliveries by recipient domain and bounce text, largest first."""
    if as_json and as_csv:
        raise InputError("choose one of --json and --csv")

    rows = _query(
        lambda engine: undelivered_report(
            engine, campaign_id, group_by_campaign=group_by is GroupBy.campaign
        )
    )
    if as_json:
        typer.echo(undelivered_report_json(rows))
    elif as_csv:
        write_undelivered_csv(rows, sys.stdout)
    else:
        print_undelivered_report(rows, Console())


def _query(make: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run one report query on an engine of its own."""

    async def run() -> T:
        engine = make_engine(get_settings().database_url)
        try:
            return await make(engine)
        finally:
            await engine.dispose()

    return asyncio.run(run())
