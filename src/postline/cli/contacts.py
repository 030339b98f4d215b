"""``postline contacts``: importing profiles and subscriptions."""

import typer

app = typer.Typer(help="Profiles, lists and subscriptions.", no_args_is_help=True)
