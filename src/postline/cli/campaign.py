"""``postline campaign``: creating and running campaigns."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import typer

from postline.campaigns import LaunchSummary, create_campaign, run_campaign
from postline.settings import get_settings
from postline.store.db import make_engine

app = typer.Typer(help="Campaigns and their launches.", no_args_is_help=True)


@app.command()
def create(file: Path) -> None:
    """Create a campaign from its YAML FILE; prints only the new campaign's id."""
    campaign_id = asyncio.run(_create(file))
    typer.echo(campaign_id)


@app.command()
def run(
    campaign_id: int = typer.Argument(..., metavar="ID"),
    again: bool = typer.Option(
        False, "--again", help="Launch anew a campaign whose last launch finished."
    ),
) -> None:
    """Launch campaign ID, or resume its unfinished launch, and print a summary."""
    summary = asyncio.run(_run(campaign_id, again, progress=sys.stdout.isatty()))
    for line in summary.lines():
        typer.echo(line)


async def _create(file: Path) -> int:
    engine = make_engine(get_settings().database_url)
    try:
        return await create_campaign(engine, file)
    finally:
        await engine.dispose()


async def _run(campaign_id: int, again: bool, *, progress: bool) -> LaunchSummary:
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        return await run_campaign(
            settings, engine, campaign_id, again=again, progress=progress
        )
    finally:
        await engine.dispose()
