"""``postline db``: schema migrations."""

from __future__ import annotations

import typer

from postline.settings import get_settings
from postline.store.db import upgrade as upgrade_schema

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command()
def upgrade() -> None:
    """Apply every pending migration to the configured database."""
    upgrade_schema(get_settings().database_url)
    typer.echo("schema is up to date")
