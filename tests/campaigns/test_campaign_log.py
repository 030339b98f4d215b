"""Reading the campaign log: ``postline campaign log`` and ``read_log``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from campaigns.data import Audience, log_entries
from conftest import settings_env
from postline.campaigns import create_campaign, run_campaign
from postline.campaigns.campaign_log import read_log
from postline.errors import NotFoundError
from postline.ids import message_id
from postline.settings import Settings
from postline.store.tables import SubStatus

POSTLINE = str(Path(sys.executable).parent / "postline")
TYPO_HTML = "<p>Hello</p>\n<p>{{ frist_name }}</p>\n"


def _log_command(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [POSTLINE, "campaign", "log", *args],
        env=settings_env(settings) | {"POSTLINE_LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_the_log_command_prints_a_launchs_entries_oldest_first_one_a_line(
    settings: Settings, engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    await audience.add(first_name="Ada", fields={"frist_name": "Ada"})
    failing = await audience.add(first_name="Bob")
    unsubscribed = await audience.add(status=SubStatus.UNSUBSCRIBED)
    path = audience.campaign_file(tmp_path, body=TYPO_HTML)
    campaign_id = await create_campaign(engine, path)
    summary = await run_campaign(settings, engine, campaign_id)

    done = _log_command(settings, str(campaign_id))

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    stored = await log_entries(engine, summary.launch_id)
    assert len(lines) == len(stored) == 4
    assert [line.split()[1:3] for line in lines] == [
        ["INFO", "start"],
        ["ERROR", "html"],
        ["INFO", "skipped:"],
        ["INFO", "end"],
    ]
    failed_id = message_id(summary.launch_id, failing, "email")
    assert lines[1].endswith(
        "html line 2: 'frist_name' is undefined  "
        f"message_id={failed_id}  profile_id={failing}"
    )
    assert f"profile_id={unsubscribed}" in lines[2]
    assert "value=" in lines[3]
    assert (
        lines[3].split()[0]
        == stored[-1]["created_at"].strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    )


async def test_a_level_keeps_that_level_and_the_more_severe_ones(
    settings: Settings, engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    failing = await audience.add(first_name="Bob")
    await audience.add(status=SubStatus.UNSUBSCRIBED)
    path = audience.campaign_file(tmp_path, body=TYPO_HTML)
    campaign_id = await create_campaign(engine, path)
    await run_campaign(settings, engine, campaign_id)

    errors = await read_log(engine, campaign_id, level="ERROR")
    warnings = await read_log(engine, campaign_id, level="WARNING")
    infos = await read_log(engine, campaign_id, level="INFO")

    assert [(e.level, e.profile_id) for e in errors.entries] == [("ERROR", failing)]
    assert warnings.entries == errors.entries
    assert [e.level for e in infos.entries] == ["INFO", "ERROR", "INFO", "INFO"]


async def test_the_log_shows_the_latest_launch_unless_one_is_named(
    settings: Settings, engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    await audience.add()
    campaign_id = await create_campaign(engine, audience.campaign_file(tmp_path))
    first = await run_campaign(settings, engine, campaign_id)
    second = await run_campaign(settings, engine, campaign_id, again=True)

    latest = await read_log(engine, campaign_id)
    named = await read_log(engine, campaign_id, launch_id=first.launch_id)

    assert (latest.launch_id, named.launch_id) == (second.launch_id, first.launch_id)
    assert len(latest.entries) == len(named.entries) == 2
    assert latest.entries[0].time > named.entries[-1].time


async def test_a_limit_keeps_the_oldest_entries_and_counts_the_rest(
    settings: Settings, engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    for _ in range(5):
        await audience.add(status=SubStatus.UNSUBSCRIBED)
    campaign_id = await create_campaign(engine, audience.campaign_file(tmp_path))
    await run_campaign(settings, engine, campaign_id)

    page = await read_log(engine, campaign_id, limit=3)
    done = _log_command(settings, str(campaign_id), "--limit", "2", "--json")

    assert [e.message for e in page.entries] == ["Begin campaign"] + 2 * [
        "skipped: not_subscribed"
    ]
    assert page.more == 4
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert [e["message"] for e in printed] == [e.message for e in page.entries[:2]]
    assert set(printed[1]) == {
        "time",
        "level",
        "state",
        "message",
        "value",
        "message_id",
        "profile_id",
    }
    assert done.stderr == "5 more entries not shown; --limit 0 shows them all\n"


async def test_an_unknown_campaign_or_a_launch_of_another_is_refused(
    settings: Settings, engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    await audience.add()
    other = await create_campaign(engine, audience.campaign_file(tmp_path))
    other_launch = (await run_campaign(settings, engine, other)).launch_id
    campaign_id = await create_campaign(engine, audience.campaign_file(tmp_path))

    with pytest.raises(NotFoundError, match="has not been launched"):
        await read_log(engine, campaign_id)
    with pytest.raises(NotFoundError, match=f"has no launch {other_launch}"):
        await read_log(engine, campaign_id, launch_id=other_launch)
    done = _log_command(settings, str(campaign_id + 1000))

    assert done.returncode == 2
    assert done.stderr == f"error: campaign {campaign_id + 1000} does not exist\n"
