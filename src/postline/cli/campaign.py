"""``postline campaign``: creating and running campaigns, and reading their log."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from postline.campaigns import LaunchSummary, create_campaign, run_campaign
from postline.campaigns.campaign_log import LogPage, read_log
from postline.campaigns.rules import TEMPLATE_ERROR
from postline.campaigns.sample import render_sample
from postline.errors import CampaignFileError, PostlineError
from postline.settings import get_settings
from postline.store.db import make_engine

app = typer.Typer(help="Campaigns and their launches.", no_args_is_help=True)

# Entries `campaign log` prints unless told otherwise; 0 means all.
LOG_LIMIT = 1000


class Level(StrEnum):
    ERROR = "ERROR"
    WARNING = "WARNING"
    INFO = "INFO"


@app.command()
def create(file: Path) -> None:
    """Create a campaign from its YAML FILE; prints only the new campaign's id.

    The templates are then rendered for the list's first subscriber, and
    each part that fails for it is a warning on stderr.
    """
    try:
        campaign_id, warnings = asyncio.run(_create(file))
    except CampaignFileError as exc:
        # One line per problem of the file, each its own error.
        for problem in str(exc).splitlines():
            typer.secho(f"error: {problem}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc

    for warning in warnings:
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW, err=True)
    typer.echo(campaign_id)


@app.command()
def run(
    campaign_id: Annotated[int, typer.Argument(metavar="ID")],
    again: Annotated[
        bool,
        typer.Option(
            "--again", help="Launch anew a campaign whose last launch finished."
        ),
    ] = False,
) -> None:
    """Launch campaign ID, or resume its unfinished launch, and print a summary.

    Exits with status 1 when no recipient got a message because the
    templates failed for every one the rules let through.
    """
    # A broker that cannot be reached ends the run with one error line saying
    # so; the AMQP library's own record of the same failure would be a second.
    logging.getLogger("aiormq.connection").setLevel(logging.CRITICAL)

    summary = asyncio.run(_run(campaign_id, again, progress=sys.stdout.isatty()))
    for line in [*summary.lines(), *summary.error_lines(campaign_id)]:
        typer.echo(line)

    if summary.nothing_rendered:
        failed = summary.skipped[TEMPLATE_ERROR]
        typer.secho(
            f"error: campaign {campaign_id}: nothing was queued: the templates "
            f"failed for all {failed} recipients the rules let through; correct "
            "them and create a new campaign from the corrected file",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(1)


@app.command("log")
def show_log(
    campaign_id: Annotated[int, typer.Argument(metavar="ID")],
    launch: Annotated[
        int | None, typer.Option(help="A launch id; default: the latest.")
    ] = None,
    level: Annotated[
        Level | None,
        typer.Option(case_sensitive=False, help="This level and the more severe."),
    ] = None,
    limit: Annotated[
        int, typer.Option(min=0, help="At most this many entries; 0: all.")
    ] = LOG_LIMIT,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The campaign log of a launch, oldest first, one line per entry."""
    page = asyncio.run(_log(campaign_id, launch, level, limit or None))
    if as_json:
        typer.echo(json.dumps([e.to_dict() for e in page.entries], indent=2))
    else:
        for entry in page.entries:
            typer.echo(entry.line())

    if page.more:
        typer.echo(
            f"{page.more} more entries not shown; --limit 0 shows them all", err=True
        )


async def _create(file: Path) -> tuple[int, list[str]]:
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        campaign_id = await create_campaign(engine, file)
        warnings = await _sample_warnings(engine, campaign_id, settings.unsubscribe_url)
        return campaign_id, warnings
    finally:
        await engine.dispose()


async def _sample_warnings(
    engine: AsyncEngine, campaign_id: int, unsubscribe_base: str
) -> list[str]:
    """What the trial render for one subscriber found, as warnings."""
    try:
        sample = await render_sample(engine, campaign_id, unsubscribe_base)
    except PostlineError as exc:
        # The campaign is stored; only the trial is lost, and it is a courtesy.
        return [f"the templates could not be tried on a subscriber: {exc}"]

    if sample is None:
        return []
    return [
        f"{problem} (rendered for profile {sample.profile_id})"
        for problem in sample.problems
    ]


async def _run(campaign_id: int, again: bool, *, progress: bool) -> LaunchSummary:
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        return await run_campaign(
            settings, engine, campaign_id, again=again, progress=progress
        )
    finally:
        await engine.dispose()


async def _log(
    campaign_id: int, launch: int | None, level: Level | None, limit: int | None
) -> LogPage:
    engine = make_engine(get_settings().database_url)
    try:
        return await read_log(
            engine,
            campaign_id,
            launch_id=launch,
            level=None if level is None else level.value,
            limit=limit,
        )
    finally:
        await engine.dispose()
