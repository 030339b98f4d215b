"""``postline report``: the commands as an operator runs them."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sys
from pathlib import Path

import pytest

from conftest import settings_env
from postline.settings import Settings, load_settings
from registrar.seed import Seed

POSTLINE = [str(Path(sys.executable).parent / "postline")]


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The session database; reports never touch RabbitMQ, so no vhost."""
    return load_settings(database_url=database_url)


async def postline(settings: Settings, *args: str) -> tuple[int, str, str]:
    """Run a ``postline`` command; returns (exit code, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        *POSTLINE,
        *args,
        env=settings_env(settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_campaign_report_prints_json_that_parses(
    seed: Seed, settings: Settings
) -> None:
    await seed.member(status="delivered")
    await seed.member(status="undelivered", reason="hard_bounce", reply="550 no")
    await seed.mark_started()

    code, out, _ = await postline(
        settings, "report", "campaign", str(seed.campaign_id), "--json"
    )

    data = json.loads(out)
    assert code == 0
    assert (data["launch_id"], data["audience"], data["delivered"]) == (
        seed.launch_id,
        2,
        1,
    )
    assert data["undelivered"] == {"hard_bounce": 1}
    assert data["adds_up"] is True


async def test_the_campaign_report_prints_a_table_with_its_verdict(
    seed: Seed, settings: Settings
) -> None:
    await seed.member(status="skipped", reason="stop_listed")
    await seed.mark_started()

    code, out, _ = await postline(
        settings,
        "report",
        "campaign",
        str(seed.campaign_id),
        "--launch",
        str(seed.launch_id),
    )

    assert code == 0
    assert "stop_listed" in out
    assert "The counts add up to the audience (1)." in out


async def test_the_undelivered_report_prints_json_and_csv(
    seed: Seed, settings: Settings
) -> None:
    await seed.member(
        status="undelivered", reply="550 5.1.1 unknown", email="x@Gone.test"
    )
    await seed.member(status="deferred", reply="421 later", email="y@gone.test")
    args = ["report", "undelivered", "--campaign", str(seed.campaign_id)]

    _, as_json, _ = await postline(settings, *args, "--json")
    _, as_csv, _ = await postline(settings, *args, "--csv", "--group-by", "campaign")

    assert json.loads(as_json) == [
        {
            "group": seed.campaign_name,
            "campaign_id": seed.campaign_id,
            "to_domain": "gone.test",
            "bounce_text": "550 5.1.1 unknown",
            "count": 1,
        }
    ]
    assert list(csv.reader(io.StringIO(as_csv))) == [
        ["Group by", "To domain", "Bounce text", "Amount"],
        [seed.campaign_name, "gone.test", "550 5.1.1 unknown", "1"],
    ]


async def test_an_unknown_campaign_ends_with_a_message_not_a_traceback(
    settings: Settings,
) -> None:
    code, _, err = await postline(settings, "report", "campaign", "999999999999")

    assert code == 2
    assert "error: campaign 999999999999 does not exist" in err
    assert "Traceback" not in err
