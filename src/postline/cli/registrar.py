"""``postline registrar``: applies status events to the ledger."""

from __future__ import annotations

import asyncio
import signal

from postline.registrar.service import serve_registrar
from postline.settings import get_settings


def run() -> None:
    """Consume status events in batches and apply them; SIGTERM or Ctrl-C stops."""
    asyncio.run(_serve())


async def _serve() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    await serve_registrar(get_settings(), stop)
