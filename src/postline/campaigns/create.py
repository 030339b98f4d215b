"""Creating a campaign from its file: the template and the campaign rows.

The list and the sender are looked up by name; a name that does not exist
is an error about the file, naming the key.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from postline.campaigns.database import database_call
from postline.campaigns.definition import CampaignDefinition, read_campaign_file
from postline.errors import CampaignFileError, NotFoundError
from postline.senders import get_sender
from postline.store.tables import campaigns, lists, templates

log = logging.getLogger(__name__)


@database_call
async def create_campaign(engine: AsyncEngine, path: Path) -> int:
    """Store the campaign defined in ``path``; returns the new campaign's id."""
    definition = read_campaign_file(path)

    try:
        sender = await get_sender(engine, definition.sender)
    except NotFoundError as exc:
        raise CampaignFileError(f"{path}: sender: {exc}") from exc

    async with engine.begin() as conn:
        list_id = await _list_id(conn, path, definition.list_name)
        template_id = await _insert_template(conn, definition)
        result = await conn.execute(
            insert(campaigns)
            .values(
                name=definition.name,
                list_id=list_id,
                channel="email",
                template_id=template_id,
                sender_id=sender.id,
                priority=definition.priority,
            )
            .returning(campaigns.c.id)
        )
        campaign_id = int(result.scalar_one())

    log.info(
        "campaign_created campaign_id=%d list=%s sender=%s priority=%s",
        campaign_id,
        definition.list_name,
        sender.name,
        definition.priority,
    )
    return campaign_id


async def _list_id(conn: AsyncConnection, path: Path, name: str) -> int:
    row = (await conn.execute(select(lists.c.id).where(lists.c.name == name))).first()
    if row is None:
        raise CampaignFileError(f"{path}: list: no list named {name!r}")
    return int(row.id)


async def _insert_template(
    conn: AsyncConnection, definition: CampaignDefinition
) -> int:
    result = await conn.execute(
        insert(templates)
        .values(
            name=definition.name,
            subject=definition.subject,
            html=definition.html,
            text=definition.text,
        )
        .returning(templates.c.id)
    )
    return int(result.scalar_one())
