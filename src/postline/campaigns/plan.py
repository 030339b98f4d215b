"""What a run needs to know about its campaign, loaded once at start."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from postline.bus import names
from postline.campaigns.database import database_call
from postline.errors import NotFoundError
from postline.senders import Sender, get_sender
from postline.store.tables import campaigns, templates
from postline.templates import CampaignTemplate


@dataclass(frozen=True, slots=True)
class CampaignPlan:
    """A campaign with its sender and its compiled template."""

    id: int
    name: str
    list_id: int
    priority: bool
    sender: Sender
    template: CampaignTemplate

    @property
    def queue(self) -> str:
        """The MTA queue its messages go to: the priority one if it is urgent."""
        if self.priority:
            return names.mta_priority_queue(self.sender.id)
        return names.mta_queue(self.sender.id)


@dataclass(frozen=True, slots=True)
class StoredCampaign:
    """A campaign's row with its template's sources, as stored."""

    name: str
    list_id: int
    priority: bool
    sender_id: int
    subject: str
    html: str
    text: str | None


@database_call
async def load_campaign(engine: AsyncEngine, campaign_id: int) -> StoredCampaign:
    """The stored campaign, or ``NotFoundError`` if there is no such campaign."""
    query = (
        select(
            campaigns.c.name,
            campaigns.c.list_id,
            campaigns.c.priority,
            campaigns.c.sender_id,
            templates.c.subject,
            templates.c.html,
            templates.c.text,
        )
        .join(templates, templates.c.id == campaigns.c.template_id)
        .where(campaigns.c.id == campaign_id)
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        raise NotFoundError(f"campaign {campaign_id} does not exist")

    return StoredCampaign(
        name=row.name,
        list_id=int(row.list_id),
        priority=row.priority,
        sender_id=int(row.sender_id),
        subject=row.subject,
        html=row.html or "",
        text=row.text,
    )


async def load_plan(engine: AsyncEngine, campaign_id: int) -> CampaignPlan:
    """The campaign's plan, or ``NotFoundError`` if there is no such campaign."""
    stored = await load_campaign(engine, campaign_id)
    return CampaignPlan(
        id=campaign_id,
        name=stored.name,
        list_id=stored.list_id,
        priority=stored.priority,
        sender=await get_sender(engine, stored.sender_id),
        template=CampaignTemplate(stored.subject, stored.html, stored.text),
    )
