"""``postline campaign``: creating and running campaigns."""

import typer

app = typer.Typer(help="Campaigns and their launches.", no_args_is_help=True)
