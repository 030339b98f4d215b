"""``postline config``: operator configuration as one YAML file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
import yaml
from pydantic import ValidationError

from postline.errors import InputError
from postline.senders import SenderConfig, apply_senders
from postline.settings import get_settings
from postline.store.db import make_engine

app = typer.Typer(help="Operator configuration (senders).", no_args_is_help=True)


@app.command()
def apply(file: Path) -> None:
    """Create or update the senders listed under ``senders:`` in FILE."""
    configs = read_config(file)
    ids = asyncio.run(_apply(configs))
    for config, sender_id in zip(configs, ids, strict=True):
        typer.echo(f"sender {config.name}: id {sender_id}")


def read_config(file: Path) -> list[SenderConfig]:
    """Parse and validate the file; errors name the entry and the field."""
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{file}: {exc}") from exc

    entries = data.get("senders", []) if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise InputError(f"{file}: 'senders' must be a list")

    configs = []
    for index, entry in enumerate(entries):
        try:
            configs.append(SenderConfig.model_validate(entry))
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            raise InputError(f"{file}: senders[{index}].{field}: {err['msg']}") from exc
    return configs


async def _apply(configs: list[SenderConfig]) -> list[int]:
    engine = make_engine(get_settings().database_url)
    try:
        return await apply_senders(engine, configs)
    finally:
        await engine.dispose()
