"""Senders: the configured routes a campaign's messages leave by.

At this stage every sender is a built-in MTA sender (``kind: mta``). Senders
are rows in the database, applied from the ``senders:`` section of an
operator's YAML file and read by the campaign run and the MTA.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import ColumnElement, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from postline.errors import NotFoundError
from postline.store.tables import senders

# One label of a DNS name, lower-cased.
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


class SenderConfig(BaseModel):
    """One sender as an operator writes it in YAML. Times are in seconds."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    kind: Literal["mta"] = "mta"
    from_email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    from_name: str | None = None
    # A DNS name: the envelope sender of every message ends with it.
    bounce_domain: str = Field(min_length=3, max_length=253)
    strategy_messages: int = Field(60, ge=1)
    strategy_interval: int = Field(60, ge=1)
    connections: int = Field(4, ge=1, le=100)
    retry_attempts: int = Field(5, ge=0)
    retry_interval: int = Field(600, ge=1)
    lifetime: int = Field(86400, ge=1)

    @field_validator("bounce_domain")
    @classmethod
    def _dns_name(cls, domain: str) -> str:
        labels = domain.lower().split(".")
        if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
            raise ValueError(f"not a domain name: {domain!r}")
        return domain.lower()


@dataclass(frozen=True, slots=True)
class Sender:
    """A sender as stored, with its id (which names its queues)."""

    id: int
    name: str
    kind: str
    from_email: str
    from_name: str | None
    bounce_domain: str
    strategy_messages: int
    strategy_interval: int
    connections: int
    retry_attempts: int
    retry_interval: int
    lifetime: int


async def apply_senders(engine: AsyncEngine, configs: list[SenderConfig]) -> list[int]:
    """Create or update senders by name; returns their ids in the given order."""
    ids: list[int] = []
    async with engine.begin() as conn:
        for config in configs:
            values = config.model_dump()
            stmt = insert(senders).values(**values)
            stmt = stmt.on_conflict_do_update(index_elements=["name"], set_=values)
            result = await conn.execute(stmt.returning(senders.c.id))
            ids.append(int(result.scalar_one()))
    return ids


async def load_senders(engine: AsyncEngine, kind: str = "mta") -> list[Sender]:
    """Every sender of a kind, by id."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(*_columns()).where(senders.c.kind == kind).order_by(senders.c.id)
        )
        return [Sender(**row._mapping) for row in rows]


async def get_sender(engine: AsyncEngine, name_or_id: str | int) -> Sender:
    """One sender by name or id, or ``NotFoundError``."""
    column = senders.c.id if isinstance(name_or_id, int) else senders.c.name
    async with engine.connect() as conn:
        row = (
            await conn.execute(select(*_columns()).where(column == name_or_id))
        ).first()
    if row is None:
        raise NotFoundError(f"sender {name_or_id!r} does not exist")
    return Sender(**row._mapping)


def _columns() -> list[ColumnElement[Any]]:
    return [senders.c[name] for name in Sender.__dataclass_fields__]
