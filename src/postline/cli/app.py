"""Root of the ``postline`` command; each group lives in its own module."""

from __future__ import annotations

import sys

import typer

from postline.cli import (
    campaign,
    config,
    contacts,
    db,
    demo,
    devtools,
    mta,
    registrar,
    report,
)
from postline.cli.failures import describe
from postline.errors import PostlineError
from postline.logs import setup_logging
from postline.settings import get_settings

app = typer.Typer(
    name="postline",
    help="Marketing campaigns over email and SMS, with a built-in MTA.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(contacts.app, name="contacts")
app.add_typer(campaign.app, name="campaign")
app.add_typer(report.app, name="report")
app.add_typer(devtools.app, name="devtools")
app.add_typer(db.app, name="db")
app.add_typer(config.app, name="config")
app.command("mta")(mta.run)
app.command("registrar")(registrar.run)
app.command("demo")(demo.run)


def main() -> None:
    """Entry point: a PostlineError ends the run with its message, not a traceback."""
    try:
        setup_logging(get_settings().log_level)
        app()
    except PostlineError as exc:
        _fail(str(exc))
    except Exception as exc:
        message = describe(exc)
        if message is None:
            raise
        _fail(message)


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    sys.exit(2)
