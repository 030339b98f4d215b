"""A trial render when a campaign is created: its templates, for one subscriber.

A template that compiles may still fail for recipients: a misspelt variable
(``{{ frist_name }}``) is undefined for everyone. Rendering once for a real
subscriber of the list finds that before the campaign is run. It proves
nothing about the others (a custom field may exist for some profiles only),
so what it finds is a warning, not a refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from postline.campaigns.audience import CHANNEL, fetch_batch, template_variables
from postline.campaigns.database import database_call
from postline.campaigns.plan import load_campaign
from postline.errors import RenderError
from postline.ids import message_id
from postline.store.tables import SubStatus, profiles, subscriptions
from postline.templates import CampaignTemplate

# Stands in for a launch id in the sample's unsubscribe link: no launch has it.
_NO_LAUNCH = 0


@dataclass(frozen=True, slots=True)
class SampleRender:
    """The render problems of the templates for one subscriber, one per part."""

    profile_id: int
    problems: list[RenderError]


@database_call
async def render_sample(
    engine: AsyncEngine, campaign_id: int, unsubscribe_base: str
) -> SampleRender | None:
    """Render the campaign's templates for the list's first subscriber.

    The first subscriber is the lowest profile id whose profile and email
    subscription are both ``subscribed``; None if the list has none.
    ``unsubscribe_base`` is the setting the run builds links from.
    """
    stored = await load_campaign(engine, campaign_id)
    list_id = stored.list_id
    profile_id = await _first_subscriber(engine, list_id)
    if profile_id is None:
        return None

    members = await fetch_batch(
        engine, list_id, datetime.now(UTC), profile_id - 1, size=1
    )
    if not members:
        return None

    member = members[0]
    link = f"{unsubscribe_base}/{message_id(_NO_LAUNCH, profile_id, CHANNEL)}"
    variables = template_variables(member, link)
    problems = _problems(stored.subject, stored.html, stored.text, variables)
    return SampleRender(profile_id, problems)


async def _first_subscriber(engine: AsyncEngine, list_id: int) -> int | None:
    sub = subscriptions.c
    query = (
        select(sub.profile_id)
        .join(profiles, profiles.c.id == sub.profile_id)
        .where(sub.list_id == list_id, sub.channel == CHANNEL)
        .where(sub.status == SubStatus.SUBSCRIBED)
        .where(profiles.c.global_status == SubStatus.SUBSCRIBED)
        .order_by(sub.profile_id)
        .limit(1)
    )
    async with engine.connect() as conn:
        found = await conn.scalar(query)
    return None if found is None else int(found)


def _problems(
    subject: str, html: str, text: str | None, variables: dict[str, object]
) -> list[RenderError]:
    """Each part's render error, if it has one.

    A whole template stops at its first failing part, so each part is
    rendered in a template of its own, the other parts empty. Without a text
    template, the text is derived from the HTML; it is checked only when the
    HTML itself renders, or its error would be the HTML's twice over.
    """
    alone = {
        "subject": CampaignTemplate(subject, "", ""),
        "html": CampaignTemplate("", html, ""),
        "text": CampaignTemplate("", "" if text is not None else html, text),
    }
    problems = []
    for part, template in alone.items():
        try:
            template.render(variables)
        except RenderError as exc:
            if exc.part == part:
                problems.append(exc)
    return problems
