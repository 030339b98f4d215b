"""The demo: one campaign end to end on the local RabbitMQ and PostgreSQL.

It uses a database of its own (the configured name with ``_demo`` appended),
made afresh on every run, a RabbitMQ vhost of its own (``postline_demo``),
its own spool under ``var/demo``, and the development SMTP sink on loopback
as the route for every domain. The MTA and
the registrar run in this process; everything else is the real path:
contacts import, campaign run, RabbitMQ, spool, SMTP, status events, ledger.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from postline.bus import names
from postline.bus.topology import (
    connect,
    declare_events,
    declare_work_queue,
    open_channel,
)
from postline.campaigns import create_campaign, run_campaign
from postline.cli.config import read_config
from postline.contacts import import_contacts
from postline.demo.vhost import ensure_vhost
from postline.devtools.sink import SmtpSink
from postline.errors import StateError
from postline.mta.service import serve_mta
from postline.registrar.service import serve_registrar
from postline.reports import (
    campaign_report,
    print_campaign_report,
    print_undelivered_report,
    undelivered_report,
)
from postline.senders import apply_senders, get_sender
from postline.settings import Settings
from postline.store.db import make_engine
from postline.store.tables import ledger

log = logging.getLogger(__name__)

DATA = Path(__file__).parent / "data"
DEMO_LOG = Path("var/demo/demo.log")
FINAL = ("skipped", "delivered", "undelivered", "failed")

# How long the demo waits for every message to reach a final status.
SETTLE_TIMEOUT = 300.0


def demo_database_url(settings: Settings) -> str:
    """The configured database URL with ``_demo`` appended to its name."""
    base, _, name = settings.database_url.rpartition("/")
    return f"{base}/{name.split('?')[0]}_demo"


async def run_demo(settings: Settings, console: Console) -> bool:
    """Run the demo; True when every audience member is accounted for."""
    started = time.monotonic()
    await ensure_vhost(settings.amqp_url)
    engine = make_engine(settings.database_url)
    sink = SmtpSink()
    await sink.start()
    settings = settings.model_copy(
        update={"smtp_routes": {"*": f"127.0.0.1:{sink.port}"}}
    )
    console.print(f"[bold]SMTP sink[/] listening on 127.0.0.1:{sink.port}")

    try:
        sender_id = await _load_example(engine, console)
        await _purge_queues(settings, sender_id)
        campaign_id = await create_campaign(engine, DATA / "campaign.yaml")
        return await _send(settings, engine, sink, campaign_id, console, started)
    finally:
        await sink.stop()
        await engine.dispose()


async def _load_example(engine: AsyncEngine, console: Console) -> int:
    """Import the contacts and apply the sender configuration."""
    result = await import_contacts(engine, DATA / "contacts.csv", "newsletter")
    console.print(
        f"[bold]Contacts[/] imported={result.imported} updated={result.updated} "
        f"unchanged={result.unchanged} kept={result.kept} "
        f"rejected={len(result.rejected)}"
    )
    for error in result.rejected:
        console.print(
            f"  contacts.csv:{error.line}: {error.reason}",
            style="yellow",
            soft_wrap=True,
        )

    configs = read_config(DATA / "config.yaml")
    await apply_senders(engine, configs)
    sender = await get_sender(engine, configs[0].name)
    return sender.id


async def _purge_queues(settings: Settings, sender_id: int) -> None:
    """Empty the demo vhost's queues, so an earlier aborted run leaves nothing."""
    connection = await connect(settings.amqp_url)
    try:
        channel = await open_channel(connection)
        await declare_events(channel)
        for name in (
            names.mta_queue(sender_id),
            names.mta_priority_queue(sender_id),
            names.STATUS_EVENTS_QUEUE,
        ):
            queue = await declare_work_queue(channel, name)
            await queue.purge()
    finally:
        await connection.close()


async def _send(
    settings: Settings,
    engine: AsyncEngine,
    sink: SmtpSink,
    campaign_id: int,
    console: Console,
    started: float,
) -> bool:
    stop = asyncio.Event()
    services = [
        asyncio.create_task(serve_mta(settings, stop), name="mta"),
        asyncio.create_task(serve_registrar(settings, stop), name="registrar"),
    ]
    try:
        summary = await run_campaign(
            settings, engine, campaign_id, progress=console.is_terminal
        )
        console.print(
            f"[bold]Campaign {campaign_id}[/] launch={summary.launch_id} "
            f"audience={summary.audience} queued={summary.queued} "
            f"skipped={sum(summary.skipped.values())} "
            f"elapsed={summary.elapsed:.2f}s"
        )
        await _settle(engine, summary.launch_id, summary.audience, console, services)
    finally:
        stop.set()
        await asyncio.gather(*services, return_exceptions=True)

    report = await campaign_report(engine, campaign_id)
    print_campaign_report(report, console)
    print_undelivered_report(await undelivered_report(engine, campaign_id), console)
    console.print(
        f"SMTP sink received {sum(sink.received.values())} messages for "
        f"{len(sink.received)} message ids; demo took "
        f"{time.monotonic() - started:.1f}s"
    )
    return report.adds_up


async def _settle(
    engine: AsyncEngine,
    launch_id: int,
    audience: int,
    console: Console,
    services: list[asyncio.Task[None]],
) -> None:
    """Wait until every ledger row of the launch has a final status."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    with Progress(
        console=console, transient=True, disable=not console.is_terminal
    ) as bar:
        task = bar.add_task("delivering", total=audience)
        while True:
            final = await _count_final(engine, launch_id)
            bar.update(task, completed=final)
            if final >= audience:
                return

            for service in services:
                if service.done() and service.exception() is not None:
                    raise StateError(
                        f"{service.get_name()} stopped: {service.exception()}"
                    )
            if time.monotonic() > deadline:
                raise StateError(
                    f"launch {launch_id}: {audience - final} messages not final "
                    f"after {SETTLE_TIMEOUT:.0f}s"
                )
            await asyncio.sleep(0.5)


async def _count_final(engine: AsyncEngine, launch_id: int) -> int:
    query = (
        select(func.count())
        .select_from(ledger)
        .where(ledger.c.launch_id == launch_id, ledger.c.status.in_(FINAL))
    )
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


def reset_spool(settings: Settings) -> Settings:
    """A fresh spool directory for the demo."""
    spool = Path("var/demo/spool")
    shutil.rmtree(spool, ignore_errors=True)
    spool.mkdir(parents=True)
    return settings.model_copy(update={"spool_dir": spool})
