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
from postline.campaigns.sample import render_sample
from postline.errors import CampaignFileError, StoreError
from postline.settings import Settings
from postline.store.db import make_engine
from postline.store.tables import SubStatus, campaigns, templates

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
        ({"colour": "blue"}, "colour: unknown key 'colour'"),
        ({"subjet": "Hi"}, "subjet: unknown key 'subjet' (did you mean 'subject'?)"),
        ({"sender": True}, "sender: expected a sender name or id, got true/false"),
        ({"html": "<p>x</p>"}, "html: give html or html_file, not both"),
        ({"html_file": "missing.html"}, "html_file: cannot read"),
        ({"text_file": "missing.txt"}, "text_file: cannot read"),
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


async def test_every_problem_of_a_file_is_reported_at_once_in_the_files_order(
    engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    path = audience.campaign_file(
        tmp_path,
        body="<p>{% if first_name %}Hi{% endfor %}</p>",
        list="no-such-list",
        sender="no-such-sender",
        priority="maybe",
        subjet="Hi",
    )
    path.write_text(path.read_text().replace("subject:", "# subject:"))

    with pytest.raises(CampaignFileError) as caught:
        await create_campaign(engine, path)

    # The file's keys in the order yaml.safe_dump wrote them, sorted by name;
    # a required key that is missing comes last.
    assert str(caught.value).splitlines() == [
        f"{path}: html_file: body.html line 1: {_endfor_detail()}",
        f"{path}: list: no list named 'no-such-list'",
        f"{path}: priority: expected true or false, got 'maybe'",
        f"{path}: sender: sender 'no-such-sender' does not exist",
        f"{path}: subjet: unknown key 'subjet' (did you mean 'subject'?)",
        f"{path}: subject: missing (required)",
    ]
    assert await _templates_named(engine, f"campaign-{audience.tag}") == 0


def _endfor_detail() -> str:
    return (
        "Encountered unknown tag 'endfor'. Jinja was looking for the following "
        "tags: 'elif' or 'else' or 'endif'. The innermost block that needs to be "
        "closed is 'if'."
    )


async def _templates_named(engine: AsyncEngine, name: str) -> int:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(templates.c.id).where(templates.c.name == name)
        )
        return len(rows.all())


async def test_a_syntax_error_in_each_part_is_reported_for_each(
    engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    path = audience.campaign_file(
        tmp_path, body="<p>\n{{ first_name </p>", subject="{{", text="{% if %}"
    )

    with pytest.raises(CampaignFileError) as caught:
        await create_campaign(engine, path)

    lines = str(caught.value).splitlines()
    assert [line.split(": ")[1] for line in lines] == [
        "html_file",
        "subject line 1",
        "text line 1",
    ]
    assert lines[0].startswith(f"{path}: html_file: body.html line 2: ")


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


def test_the_create_command_prints_each_problem_of_the_file_as_an_error_line(
    settings: Settings, audience: Audience, tmp_path: Path
) -> None:
    path = audience.campaign_file(tmp_path, list="no-such-list", subjet="Hi")

    done = _create_command(settings, path)

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"error: {path}: list: no list named 'no-such-list'",
        f"error: {path}: subjet: unknown key 'subjet' (did you mean 'subject'?)",
    ]


async def test_create_warns_of_each_part_that_fails_for_the_first_subscriber(
    settings: Settings, engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    # The lowest profile id is not subscribed, so the sample is the next one.
    await audience.add(first_name="Ada", status=SubStatus.UNSUBSCRIBED)
    sample = await audience.add(first_name="Bob")
    await audience.add(first_name="Cy")
    html = "<p>Hello</p>\n<p>{{ frist_name }}</p>\n"
    path = audience.campaign_file(
        tmp_path, body=html, subject="{{ 10 // 0 }}", text="Hi {{ first_name }}"
    )

    done = _create_command(settings, path)

    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{int(done.stdout)}\n"
    assert done.stderr.splitlines() == [
        "warning: subject line 1: ZeroDivisionError: integer division or modulo "
        f"by zero (rendered for profile {sample})",
        "warning: html line 2: 'frist_name' is undefined "
        f"(rendered for profile {sample})",
    ]


async def test_a_template_that_renders_for_the_first_subscriber_gives_no_warning(
    settings: Settings, audience: Audience, tmp_path: Path
) -> None:
    await audience.add(first_name="Ada", fields={"coupon": "C1"})
    html = "<p>{{ first_name }}, {{ coupon }}, {{ profile.email }}</p>"
    path = audience.campaign_file(tmp_path, body=html)

    done = _create_command(settings, path)

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


async def test_the_sample_render_checks_a_derived_text_and_a_list_without_members(
    engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    empty = await create_campaign(engine, audience.campaign_file(tmp_path))
    assert await render_sample(engine, empty, "https://u.example.test/u") is None

    profile_id = await audience.add(first_name="Ada")
    html = "<p>{{ first_name }}</p><p>{{ unsubscribe_url[0:8] }}{{ code }}</p>"
    campaign_id = await create_campaign(
        engine, audience.campaign_file(tmp_path, body=html)
    )

    sample = await render_sample(engine, campaign_id, "https://u.example.test/u")

    assert sample is not None
    assert sample.profile_id == profile_id
    # The text part is derived from the HTML: its error is the HTML's, once.
    assert [str(p) for p in sample.problems] == ["html line 1: 'code' is undefined"]


def _create_command(settings: Settings, path: Path) -> subprocess.CompletedProcess[str]:
    """``campaign create``, its stderr without the INFO log lines."""
    return subprocess.run(
        [POSTLINE, "campaign", "create", str(path)],
        env=settings_env(settings) | {"POSTLINE_LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=60,
    )


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


async def test_a_control_character_in_the_name_is_refused_by_key(
    engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    path = audience.campaign_file(tmp_path, name="Spring\x00sale")

    with pytest.raises(CampaignFileError, match="name"):
        await create_campaign(engine, path)


async def test_a_template_file_that_is_not_text_is_refused(
    engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    (tmp_path / "big.html").write_bytes(b"<p>x</p>" * 700_000)
    (tmp_path / "binary.html").write_bytes(b"<p>\x00</p>")

    for name, expected in [("big.html", "larger than"), ("binary.html", "NUL byte")]:
        path = audience.campaign_file(tmp_path, html=None, html_file=name)
        with pytest.raises(CampaignFileError, match=expected):
            await create_campaign(engine, path)
