"""``postline db``: schema migrations."""

from __future__ import annotations

import typer

from postline.settings import get_settings
from postline.store.createdb import create_and_upgrade

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command()
def upgrade() -> None:
    """Create the configured database if it is missing, then apply migrations."""
    create_and_upgrade(get_settings().database_url)
    typer.echo("schema is up to date")
