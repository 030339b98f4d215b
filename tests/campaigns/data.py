"""Rows and files the campaign tests start from, inserted with SQLAlchemy Core.

Every ``Audience`` owns a fresh list and sender, and its addresses carry a
tag of their own, so tests never meet each other's rows in the shared
session database.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import yaml
from aio_pika.abc import AbstractIncomingMessage
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from postline.bus.topology import declare_work_queue
from postline.senders import Sender, SenderConfig, apply_senders, get_sender
from postline.store.tables import (
    campaign_log,
    launches,
    ledger,
    lists,
    profiles,
    stop_list,
    subscriptions,
)

HTML = (
    '<p>Hello {{ first_name | default("friend") }}</p>'
    '<a href="{{ unsubscribe_url }}">Unsubscribe</a>'
)


@dataclass
class Audience:
    """A list with its sender; ``add`` puts profiles on it."""

    engine: AsyncEngine
    list_id: int
    list_name: str
    sender: Sender
    tag: str
    _count: int = 0

    @classmethod
    async def create(cls, engine: AsyncEngine) -> Audience:
        tag = uuid.uuid4().hex[:8]
        [sender_id] = await apply_senders(
            engine,
            [
                SenderConfig.model_validate(
                    {
                        "name": f"sender-{tag}",
                        "from_email": "news@example.test",
                        "from_name": "Example News",
                        "bounce_domain": "bounces.example.test",
                    }
                )
            ],
        )
        async with engine.begin() as conn:
            list_id = await conn.scalar(
                insert(lists).values(name=f"list-{tag}").returning(lists.c.id)
            )
        sender = await get_sender(engine, sender_id)
        return cls(engine, int(list_id), f"list-{tag}", sender, tag)

    def address(self, name: str | None = None) -> str:
        """A fresh address no other test uses."""
        self._count += 1
        return f"{name or 'user'}-{self.tag}-{self._count}@example.test"

    async def add(
        self,
        contact: str | None = None,
        *,
        email: str | None = None,
        global_status: int = 0,
        status: int = 0,
        first_name: str | None = None,
        fields: dict[str, Any] | None = None,
        priority: int = 0,
        profile_id: int | None = None,
    ) -> int:
        """A subscribed profile on the list (or a further subscription of one).

        The profile's email is ``email`` if given, else the contact.
        """
        contact = contact or self.address()
        async with self.engine.begin() as conn:
            if profile_id is None:
                profile_id = await conn.scalar(
                    insert(profiles)
                    .values(
                        email=email or contact,
                        first_name=first_name,
                        global_status=global_status,
                        fields=fields or {},
                    )
                    .returning(profiles.c.id)
                )
            await conn.execute(
                insert(subscriptions).values(
                    profile_id=profile_id,
                    list_id=self.list_id,
                    channel="email",
                    contact=contact,
                    status=status,
                    priority=priority,
                )
            )
        return int(profile_id)

    async def add_many(self, count: int) -> list[int]:
        """``count`` subscribed profiles with first names, in one transaction."""
        rows = [
            {"email": self.address(), "first_name": f"Reader{i}"} for i in range(count)
        ]
        async with self.engine.begin() as conn:
            result = await conn.execute(
                insert(profiles).returning(profiles.c.id, profiles.c.email), rows
            )
            made = result.all()
            await conn.execute(
                insert(subscriptions),
                [
                    {
                        "profile_id": row.id,
                        "list_id": self.list_id,
                        "channel": "email",
                        "contact": row.email,
                    }
                    for row in made
                ],
            )
        return sorted(row.id for row in made)

    async def stop_list(self, contact: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(stop_list).values(
                    channel="email", contact=contact, reason="hard_bounce"
                )
            )

    def campaign_file(self, folder: Path, *, body: str = HTML, **keys: Any) -> Path:
        """A campaign YAML file for this list and sender, its HTML in a file."""
        (folder / "body.html").write_text(body, encoding="utf-8")
        data = {
            "name": f"campaign-{self.tag}",
            "list": self.list_name,
            "sender": self.sender.name,
            "subject": "News for {{ first_name | default('you') }}",
            "html_file": "body.html",
        } | keys
        path = folder / "campaign.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        return path


async def ledger_rows(engine: AsyncEngine, launch_id: int) -> dict[int, dict[str, Any]]:
    """The launch's ledger rows by profile id."""
    async with engine.connect() as conn:
        rows = await conn.execute(select(ledger).where(ledger.c.launch_id == launch_id))
        return {row.profile_id: dict(row._mapping) for row in rows}


async def log_entries(engine: AsyncEngine, launch_id: int) -> list[dict[str, Any]]:
    """The launch's campaign-log entries, oldest first."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(campaign_log)
            .where(campaign_log.c.launch_id == launch_id)
            .order_by(campaign_log.c.id)
        )
        return [dict(row._mapping) for row in rows]


async def launch_row(engine: AsyncEngine, launch_id: int) -> dict[str, Any]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(select(launches).where(launches.c.id == launch_id))
        ).one()
        return dict(row._mapping)


def header_int(message: AbstractIncomingMessage, name: str) -> int:
    """An integer AMQP header of a delivery."""
    return int(str((message.headers or {})[name]))


async def drain(amqp_url: str, queue: str) -> list[AbstractIncomingMessage]:
    """Every message waiting in a queue, taken off it."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        declared = await declare_work_queue(channel, queue)
        taken = []
        while (message := await declared.get(no_ack=True, fail=False)) is not None:
            taken.append(message)
        return taken
    finally:
        await connection.close()
