"""Creating a campaign from its file: the template and the campaign rows.

The list and the sender are looked up by name; a name that does not exist
is a problem of the file, naming the key, reported together with every
other problem of the file. Nothing is stored unless there is none.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from postline.campaigns.database import database_call
from postline.campaigns.definition import (
    CampaignDefinition,
    FileProblems,
    check_campaign_file,
)
from postline.errors import NotFoundError
from postline.senders import Sender, get_sender
from postline.store.tables import campaigns, lists, templates

log = logging.getLogger(__name__)


@database_call
async def create_campaign(engine: AsyncEngine, path: Path) -> int:
    """Store the campaign defined in ``path``; returns the new campaign's id.

    Raises ``CampaignFileError`` naming every problem of the file, one per line.
    """
    check = check_campaign_file(path)
    sender = await _sender(engine, check.sender, check.problems)

    async with engine.begin() as conn:
        list_id = await _list_id(conn, check.list_name, check.problems)
        definition = check.definition
        # Each of these is missing only with a problem noted to say why.
        if definition is None or sender is None or list_id is None:
            raise check.problems.error()

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


async def _sender(
    engine: AsyncEngine, name: str | int | None, problems: FileProblems
) -> Sender | None:
    """The sender the file names, or None (noting why) if there is none."""
    if name is None:
        return None

    try:
        return await get_sender(engine, name)
    except NotFoundError as exc:
        problems.add("sender", str(exc))
        return None


async def _list_id(
    conn: AsyncConnection, name: str | None, problems: FileProblems
) -> int | None:
    """The id of the list the file names, or None (noting why) if there is none."""
    if name is None:
        return None

    row = (await conn.execute(select(lists.c.id).where(lists.c.name == name))).first()
    if row is None:
        problems.add("list", f"no list named {name!r}")
        return None
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
