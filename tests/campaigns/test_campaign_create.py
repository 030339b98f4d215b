"""Creating a campaign from its YAML file, and the errors that name the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from campaigns.data import Audience
from conftest import settings_env
from postline.campaigns import create_campaign
from postline.errors import CampaignFileError, StoreError
from postline.settings import Settings
from postline.store.db import make_engine
from postline.store.tables import campaigns, templates

POSTLINE = str(Path(sys.executable).parent / "postline")


async def test_a_campaign_file_becomes_a_campaign_and_its_template(
    engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    (tmp_path / "body.txt").write_text("Hi {{ first_name }}", encoding="utf-8")
    path = audience.campaign_file(tmp_path, priority=True, text_file="body.txt")

    campaign_id = await create_campaign(engine, path)

    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(campaigns, templates.c.subject, templates.c.text)
                .join(templates, templates.c.id == campaigns.c.template_id)
                .where(campaigns.c.id == campaign_id)
            )
        ).one()
    assert row.list_id == audience.list_id
    assert row.sender_id == audience.sender.id
    assert row.priority is True
    assert row.subject == "News for {{ first_name | default('you') }}"
    assert row.text == "Hi {{ first_name }}"


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({"list": "no-such-list"}, "list: no list named 'no-such-list'"),
        ({"sender": "no-such-sender"}, "sender: sender 'no-such-sender' does not"),
        ({"subject": None}, "subject: "),
        ({"priority": "maybe"}, "priority: "),
        ({"colour": "blue"}, "colour: Extra inputs are not permitted"),
        ({"html": "<p>x</p>"}, "html: give html or html_file, not both"),
        ({"html_file": "missing.html"}, "html_file: cannot read"),
    ],
)
async def test_a_wrong_key_is_named_with_the_file(
    engine: AsyncEngine,
    audience: Audience,
    tmp_path: Path,
    keys: dict[str, Any],
    expected: str,
) -> None:
    path = audience.campaign_file(tmp_path, **keys)

    with pytest.raises(CampaignFileError) as caught:
        await create_campaign(engine, path)

    assert str(caught.value).startswith(f"{path}: ")
    assert expected in str(caught.value)


async def test_a_template_syntax_error_is_rejected_with_its_file_and_line(
    engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    html = "<html>\n<body>\n<p>{% if first_name %}Hi{% endfor %}</p>\n</body>\n"
    path = audience.campaign_file(tmp_path, body=html)

    with pytest.raises(CampaignFileError) as caught:
        await create_campaign(engine, path)

    assert str(caught.value).startswith(f"{path}: html_file: body.html line 3: ")


async def test_a_subject_syntax_error_names_the_subject(
    engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    path = audience.campaign_file(tmp_path, subject="Hi {{ first_name ")

    with pytest.raises(CampaignFileError, match=r"campaign.yaml: subject line 1: "):
        await create_campaign(engine, path)


def test_the_create_command_prints_only_the_new_campaigns_id(
    settings: Settings, audience: Audience, tmp_path: Path
) -> None:
    path = audience.campaign_file(tmp_path)

    done = subprocess.run(
        [POSTLINE, "campaign", "create", str(path)],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().isdigit()
    assert done.stdout == f"{int(done.stdout)}\n"


def test_the_create_command_reports_a_wrong_file_without_a_traceback(
    settings: Settings, audience: Audience, tmp_path: Path
) -> None:
    path = audience.campaign_file(tmp_path, list="no-such-list")

    done = subprocess.run(
        [POSTLINE, "campaign", "create", str(path)],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 2
    assert done.stdout == ""
    assert "list: no list named 'no-such-list'" in done.stderr
    assert "Traceback" not in done.stderr


async def test_a_database_that_cannot_be_reached_is_reported_as_a_store_error(
    audience: Audience, tmp_path: Path
) -> None:
    # Nothing listens on port 1 of the loopback interface.
    unreachable = make_engine("postgresql+asyncpg://postgres@127.0.0.1:1/postline")
    try:
        with pytest.raises(StoreError, match="database failed in create_campaign"):
            await create_campaign(unreachable, audience.campaign_file(tmp_path))
    finally:
        await unreachable.dispose()
