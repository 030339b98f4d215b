"""``postline report``: the commands as an operator runs them."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import pty
import re
import sys
import uuid
from pathlib import Path

import pytest

from conftest import settings_env
from postline.settings import Settings, load_settings
from registrar.seed import Seed
from reports.conftest import finish_launch

POSTLINE = [str(Path(sys.executable).parent / "postline")]

# Box drawing and block characters, and terminal escape sequences.
DRAWN = re.compile(r"[\u2500-\u259f]|\x1b\[")


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


async def postline_on_terminal(settings: Settings, *args: str) -> str:
    """Run a ``postline`` command with stdout on a pseudo-terminal; its output."""
    main, terminal = pty.openpty()
    env = settings_env(settings) | {"TERM": "xterm", "COLUMNS": "120"}
    try:
        process = await asyncio.create_subprocess_exec(
            *POSTLINE, *args, env=env, stdout=terminal
        )
    finally:
        os.close(terminal)
    try:
        out = await asyncio.wait_for(asyncio.to_thread(read_until_closed, main), 60)
    finally:
        os.close(main)
    assert await process.wait() == 0
    return out.decode()


def read_until_closed(fd: int) -> bytes:
    """Everything written to a pseudo-terminal until its last writer exits."""
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other side is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def a_domain() -> str:
    return f"d-{uuid.uuid4().hex[:8]}.test"


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


async def test_the_piped_campaign_report_is_plain_text_with_its_verdict(
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

    lines = out.splitlines()
    assert code == 0
    assert not DRAWN.search(out)
    assert lines[0] == (
        f"Campaign {seed.campaign_id} {seed.campaign_name!r}, "
        f"launch {seed.launch_id}: launch running, no messages in flight"
    )
    assert "skipped\tstop_listed\t1" in lines
    assert "The counts add up to the audience (1)." in lines


async def test_the_campaign_report_names_messages_still_in_flight(
    seed: Seed, settings: Settings
) -> None:
    await seed.member(status="delivered")
    await seed.member(status="deferred", reply="421 try later")
    await seed.mark_started()
    await finish_launch(seed)
    args = ["report", "campaign", str(seed.campaign_id)]

    _, out, _ = await postline(settings, *args)
    _, as_json, _ = await postline(settings, *args, "--json")

    assert out.splitlines()[0].endswith("launch finished, 1 message in flight")
    assert (
        "1 message still on its way (deferred 1); run the report again later."
        in out.splitlines()
    )
    assert "The counts add up" not in out
    data = json.loads(as_json)
    assert (data["launch_status"], data["in_flight"], data["deferred"]) == (
        "finished",
        1,
        1,
    )


async def test_the_campaign_report_on_a_terminal_is_a_rich_table(
    seed: Seed, settings: Settings
) -> None:
    await seed.member(status="undelivered", reason="hard_bounce")
    await seed.mark_started()

    out = await postline_on_terminal(
        settings, "report", "campaign", str(seed.campaign_id)
    )

    assert DRAWN.search(out)
    assert "hard_bounce" in out
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


async def test_the_piped_undelivered_report_is_one_greppable_line_per_row(
    seed: Seed, settings: Settings
) -> None:
    domain = a_domain()
    for name in ("ana", "ben"):
        await seed.member(
            status="undelivered",
            reason="hard_bounce",
            reply=f"550 5.1.1 <{name}@{domain}>: user unknown",
            email=f"{name}@{domain}",
        )
    await seed.member(
        status="undelivered", reason="lifetime_expired", email=f"c@{domain}"
    )

    code, out, _ = await postline(settings, "report", "undelivered")

    assert code == 0
    assert not DRAWN.search(out)
    assert out.splitlines()[0] == "Group by\tTo domain\tBounce text\tAmount"
    assert [line for line in out.splitlines() if domain in line] == [
        f"all campaigns\t{domain}\t550 5.1.1 <<email>>: user unknown\t2",
        f"all campaigns\t{domain}\tlifetime_expired\t1",
    ]


async def test_the_undelivered_report_on_a_terminal_is_a_rich_table(
    seed: Seed, settings: Settings
) -> None:
    domain = a_domain()
    await seed.member(status="undelivered", reply="550 gone", email=f"x@{domain}")

    out = await postline_on_terminal(
        settings, "report", "undelivered", "--campaign", str(seed.campaign_id)
    )

    assert DRAWN.search(out)
    assert "Non-delivery report" in out and domain in out


async def test_json_csv_and_text_show_a_quoted_recipient_as_email_alike(
    seed: Seed, settings: Settings
) -> None:
    domain = a_domain()
    for name in ("ana", "ben", "cleo"):
        await seed.member(
            status="undelivered",
            reason="hard_bounce",
            reply=f"550 5.1.1 <{name}@{domain}>: user unknown",
            email=f"{name}@{domain}",
        )
    args = ["report", "undelivered", "--campaign", str(seed.campaign_id)]

    _, as_json, _ = await postline(settings, *args, "--json")
    _, as_csv, _ = await postline(settings, *args, "--csv")
    _, as_text, _ = await postline(settings, *args)

    masked = "550 5.1.1 <<email>>: user unknown"
    assert [(r["bounce_text"], r["count"]) for r in json.loads(as_json)] == [
        (masked, 3)
    ]
    assert [row[2:] for row in csv.reader(io.StringIO(as_csv))][1:] == [[masked, "3"]]
    assert as_text.splitlines()[1].split("\t")[2:] == [masked, "3"]
    assert "ana@" not in as_json + as_csv + as_text


async def test_grouping_by_domain_is_the_default_grouping(
    seed: Seed, settings: Settings
) -> None:
    domain = a_domain()
    await seed.member(status="undelivered", reply="550 gone", email=f"x@{domain}")
    other = await Seed.create(seed.engine)
    await other.member(status="undelivered", reply="550 gone", email=f"y@{domain}")

    _, default, _ = await postline(settings, "report", "undelivered", "--json")
    code, by_domain, _ = await postline(
        settings, "report", "undelivered", "--group-by", "domain", "--json"
    )
    _, by_campaign, _ = await postline(
        settings, "report", "undelivered", "--group-by", "campaign", "--json"
    )

    def mine(out: str) -> list[tuple[str, int]]:
        rows = json.loads(out)
        return sorted(
            (r["group"], r["count"]) for r in rows if r["to_domain"] == domain
        )

    assert code == 0
    assert mine(by_domain) == mine(default) == [("all campaigns", 2)]
    assert mine(by_campaign) == sorted(
        [(seed.campaign_name, 1), (other.campaign_name, 1)]
    )


async def test_an_unknown_grouping_names_the_allowed_ones(settings: Settings) -> None:
    code, out, err = await postline(
        settings, "report", "undelivered", "--group-by", "contact"
    )

    assert (code, out) == (2, "")
    assert "error: --group-by takes domain or campaign, not 'contact'" in err
