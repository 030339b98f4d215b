"""``postline devtools``: tools for development and tests (SMTP sink)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Annotated

import typer

from postline.devtools.sink import SmtpSink

app = typer.Typer(help="Development tools.", no_args_is_help=True)


@app.command("smtp-sink")
def smtp_sink(
    port: Annotated[
        int, typer.Option(help="Port on 127.0.0.1; 0 picks a free one.")
    ] = 2525,
    record: Annotated[
        Path | None,
        typer.Option(help="Append one JSON line per accepted message to this file."),
    ] = None,
    host: Annotated[
        str, typer.Option(help="Loopback address to listen on.")
    ] = "127.0.0.1",
) -> None:
    """Run the SMTP sink until SIGTERM or Ctrl-C.

    Answers by the recipient's tag: +hard 550, +soft 451 once, +spam 554,
    +slow a 2 s pause; anything else 250. Prints the address it listens on.
    """
    asyncio.run(_serve_sink(host, port, record))


async def _serve_sink(host: str, port: int, record: Path | None) -> None:
    sink = SmtpSink(host, port, record=record)
    await sink.start()
    typer.echo(f"smtp-sink listening on {host}:{sink.port}")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    try:
        await stop.wait()
    finally:
        await sink.stop()
