"""``postline mta``: the built-in mail transfer agent."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from postline.mta.service import serve_mta
from postline.settings import Settings, get_settings


def run(
    sender: Annotated[
        list[int] | None,
        typer.Option(help="Serve only this sender id; repeat for several."),
    ] = None,
) -> None:
    """Consume the queues of every built-in sender and deliver over SMTP.

    Runs until SIGTERM or Ctrl-C, then stops consuming, lets attempts under
    way finish and flushes the spool.
    """
    asyncio.run(_serve(get_settings(), sender or None))


async def _serve(settings: Settings, sender_ids: list[int] | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await serve_mta(settings, stop, sender_ids=sender_ids)
