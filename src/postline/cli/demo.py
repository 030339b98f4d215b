"""``postline demo``: a campaign end to end on the local services."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from postline.demo.run import (
    DEMO_LOG,
    demo_database_url,
    reset_spool,
    run_demo,
)
from postline.demo.vhost import DEMO_VHOST, demo_amqp_url
from postline.logs import log_to_file
from postline.settings import get_settings
from postline.store.createdb import create_and_upgrade


def run() -> None:
    """Load the example, run its campaign through the MTA and print the report.

    Uses a database of its own (the configured one with ``_demo`` appended),
    recreated on every run, and routes every domain to a local SMTP sink.
    """
    console = Console()
    settings = get_settings()
    log_to_file(DEMO_LOG, settings.log_level)
    url = demo_database_url(settings)
    console.print(f"[bold]Database[/] {url.rpartition('@')[2]} (recreated)")
    console.print(f"[bold]Log[/] {DEMO_LOG} (one line per message and batch)")
    create_and_upgrade(url, fresh=True)
    amqp_url = demo_amqp_url(settings.amqp_url)
    console.print(f"[bold]RabbitMQ vhost[/] {DEMO_VHOST}")
    settings = reset_spool(
        settings.model_copy(update={"database_url": url, "amqp_url": amqp_url})
    )

    if not asyncio.run(run_demo(settings, console)):
        raise typer.Exit(1)
