"""Rows the registrar and report tests start from, inserted with SQLAlchemy Core.

Each ``Seed`` owns a fresh list, campaign and launch, so message ids and
addresses never meet another test's in the shared session database.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from postline.ids import message_id
from postline.store.tables import (
    campaigns,
    launches,
    ledger,
    lists,
    profiles,
    senders,
    subscriptions,
    templates,
)


@dataclass(frozen=True, slots=True)
class Seed:
    """One campaign with one launch; add audience members with ``member``."""

    engine: AsyncEngine
    list_id: int
    campaign_id: int
    campaign_name: str
    launch_id: int

    @classmethod
    async def create(cls, engine: AsyncEngine) -> Seed:
        tag = uuid.uuid4().hex[:8]
        async with engine.begin() as conn:
            list_id = await _insert(conn, lists, name=f"list-{tag}")
            template_id = await _insert(conn, templates, name=tag, subject="Hi")
            sender_id = await _insert(
                conn,
                senders,
                name=f"sender-{tag}",
                from_email="news@example.test",
                bounce_domain="bounces.example.test",
            )
            name = f"campaign-{tag}"
            campaign_id = await _insert(
                conn,
                campaigns,
                name=name,
                list_id=list_id,
                template_id=template_id,
                sender_id=sender_id,
            )
            launch_id = await _insert(conn, launches, campaign_id=campaign_id)
        return cls(engine, list_id, campaign_id, name, launch_id)

    async def new_launch(self) -> Seed:
        """A later launch of the same campaign."""
        async with self.engine.begin() as conn:
            launch_id = await _insert(conn, launches, campaign_id=self.campaign_id)
        return dataclasses.replace(self, launch_id=launch_id)

    async def mark_started(self) -> None:
        """Start the launch now, after the audience was added, as in real runs."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(launches)
                .where(launches.c.id == self.launch_id)
                .values(started_at=func.clock_timestamp())
            )

    async def member(
        self,
        *,
        status: str | None = "queued",
        reason: str | None = None,
        reply: str | None = None,
        attempts: int = 0,
        email: str | None = None,
        subscribe: bool = True,
    ) -> str:
        """A profile on the list; with a status, also its ledger row.

        Returns the message id of the profile in this launch.
        """
        address = email or f"{uuid.uuid4().hex[:12]}@example.test"
        async with self.engine.begin() as conn:
            profile_id = await _insert(conn, profiles, email=address)
            if subscribe:
                await _insert(
                    conn,
                    subscriptions,
                    profile_id=profile_id,
                    list_id=self.list_id,
                    channel="email",
                    contact=address,
                )
            msg_id = message_id(self.launch_id, profile_id, "email")
            if status is not None:
                await conn.execute(
                    insert(ledger).values(
                        message_id=msg_id,
                        launch_id=self.launch_id,
                        campaign_id=self.campaign_id,
                        profile_id=profile_id,
                        channel="email",
                        contact=address,
                        status=status,
                        reason=reason,
                        reply=reply,
                        attempts=attempts,
                    )
                )
        return msg_id

    async def row(self, msg_id: str) -> dict[str, object]:
        """The ledger row of a message, as a dict."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(ledger).where(ledger.c.message_id == msg_id))
            ).one()
        return dict(row._mapping)


async def _insert(conn: AsyncConnection, table: Table, **values: object) -> int:
    result = await conn.execute(insert(table).values(**values).returning(table.c.id))
    return int(result.scalar_one())
