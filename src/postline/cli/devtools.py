"""``postline devtools``: tools for development and tests (SMTP sink)."""

import typer

app = typer.Typer(help="Development tools.", no_args_is_help=True)
