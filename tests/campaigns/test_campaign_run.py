"""The run: render errors, what lands on the queue, relaunches and resumes."""

from __future__ import annotations

import email
import email.policy
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import delete, func, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from campaigns.data import (
    Audience,
    drain,
    header_int,
    launch_row,
    ledger_rows,
    log_entries,
)
from conftest import settings_env
from postline.campaigns import create_campaign, run_campaign
from postline.campaigns.launches import campaign_lock
from postline.errors import StateError
from postline.ids import message_id, verp_address
from postline.settings import Settings
from postline.store.tables import (
    SubStatus,
    launches,
    ledger,
    profiles,
    subscriptions,
)

POSTLINE = str(Path(sys.executable).parent / "postline")
COUPON_HTML = "<p>Hello {{ first_name }}</p>\n<p>Your code:</p>\n<p>{{ coupon }}</p>\n"


async def test_a_render_error_skips_exactly_the_recipients_it_fails_for(
    settings: Settings, engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    with_coupon = [
        await audience.add(first_name="Ada", fields={"coupon": f"C{i}"})
        for i in range(3)
    ]
    without = [await audience.add(first_name="Bob") for _ in range(2)]
    path = audience.campaign_file(tmp_path, body=COUPON_HTML)
    campaign_id = await create_campaign(engine, path)

    summary = await run_campaign(settings, engine, campaign_id)

    rows = await ledger_rows(engine, summary.launch_id)
    assert {pid for pid, row in rows.items() if row["status"] == "queued"} == set(
        with_coupon
    )
    assert {
        pid for pid, row in rows.items() if row["reason"] == "template_error"
    } == set(without)
    errors = [
        e for e in await log_entries(engine, summary.launch_id) if e["level"] == "ERROR"
    ]
    assert sorted((e["profile_id"], e["message"]) for e in errors) == [
        (pid, "html line 3: 'coupon' is undefined") for pid in sorted(without)
    ]
    assert all(e["message_id"] == rows[e["profile_id"]]["message_id"] for e in errors)
    bodies = await drain(settings.amqp_url, f"akmta_{audience.sender.id}")
    # Each message carries its own recipient's code (in both of its parts).
    codes = sorted(tuple(set(re.findall(rb"C\d", m.body))) for m in bodies)
    assert codes == [(b"C0",), (b"C1",), (b"C2",)]


async def test_published_messages_carry_the_envelope_and_the_ids_of_their_ledger_rows(
    settings: Settings, engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    members = {await audience.add(first_name=f"Reader{i}"): i for i in range(3)}
    campaign_id = await create_campaign(engine, audience.campaign_file(tmp_path))

    summary = await run_campaign(settings, engine, campaign_id)

    rows = await ledger_rows(engine, summary.launch_id)
    queued = await drain(settings.amqp_url, f"akmta_{audience.sender.id}")
    assert len(queued) == len(members)
    for delivery in queued:
        headers = delivery.headers
        profile_id = header_int(delivery, "profile_id")
        msg_id = message_id(summary.launch_id, profile_id, "email")
        assert delivery.message_id == rows[profile_id]["message_id"] == msg_id
        assert headers["mail_from"] == verp_address(msg_id, "bounces.example.test")
        assert headers["rcpt_to"] == rows[profile_id]["contact"]
        assert headers["sender_id"] == audience.sender.id
        assert headers["campaign_id"] == campaign_id
        assert headers["launch_id"] == summary.launch_id

        message = email.message_from_bytes(delivery.body, policy=email.policy.default)
        assert message["Message-ID"] == f"<{msg_id}@{settings.hostname}>"
        assert message["To"] == rows[profile_id]["contact"]
        assert message["Subject"] == f"News for Reader{members[profile_id]}"
        unsubscribe = f"{settings.unsubscribe_url}/{msg_id}"
        assert unsubscribe in message["List-Unsubscribe"]
        assert unsubscribe in delivery.body.decode()


async def test_a_priority_campaign_goes_to_the_priority_queue(
    settings: Settings, engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    profile_id = await audience.add()
    path = audience.campaign_file(tmp_path, priority=True)
    campaign_id = await create_campaign(engine, path)

    await run_campaign(settings, engine, campaign_id)

    urgent = await drain(settings.amqp_url, f"akmta_prior_{audience.sender.id}")
    standard = await drain(settings.amqp_url, f"akmta_{audience.sender.id}")
    assert [m.headers["profile_id"] for m in urgent] == [profile_id]
    assert standard == []


async def test_a_finished_launch_is_sent_again_only_when_asked(
    settings: Settings, engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    await audience.add()
    await audience.add()
    campaign_id = await create_campaign(engine, audience.campaign_file(tmp_path))
    first = await run_campaign(settings, engine, campaign_id)
    queue = f"akmta_{audience.sender.id}"
    await drain(settings.amqp_url, queue)

    with pytest.raises(StateError) as refused:
        await run_campaign(settings, engine, campaign_id)
    assert await drain(settings.amqp_url, queue) == []
    assert str(refused.value).startswith(
        f"campaign {campaign_id} was already sent: launch {first.launch_id} finished"
    )
    assert str(refused.value).endswith(
        "(2 queued, 0 skipped); run it with --again to send it once more"
    )

    second = await run_campaign(settings, engine, campaign_id, again=True)

    assert second.launch_id != first.launch_id
    assert (second.audience, second.queued) == (first.audience, first.queued) == (2, 2)
    resent = await drain(settings.amqp_url, queue)
    assert {m.headers["launch_id"] for m in resent} == {second.launch_id}
    assert (await launch_row(engine, first.launch_id))["status"] == "finished"


async def test_a_resumed_launch_sends_only_what_its_crash_left_unconfirmed(
    settings: Settings, engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    ids = await audience.add_many(12)
    unsubscribed = await audience.add(status=SubStatus.UNSUBSCRIBED)
    campaign_id = await create_campaign(engine, audience.campaign_file(tmp_path))
    small = settings.model_copy(update={"campaign_batch_size": 4})
    first = await run_campaign(small, engine, campaign_id)
    queue = f"akmta_{audience.sender.id}"
    await drain(settings.amqp_url, queue)
    # Rewind to the state of a crash: batches 1-2 confirmed, batch 3 recorded
    # but unconfirmed (one of its messages already delivered), the rest not
    # reached at all.
    confirmed, in_flight = ids[7], ids[9]
    delivered = ids[8]
    async with engine.begin() as conn:
        await conn.execute(
            update(launches)
            .where(launches.c.id == first.launch_id)
            .values(status="running", finished_at=None, published_through=confirmed)
        )
        await conn.execute(
            update(ledger)
            .where(
                ledger.c.launch_id == first.launch_id, ledger.c.profile_id == delivered
            )
            .values(status="delivered")
        )
        await conn.execute(
            delete(ledger).where(
                ledger.c.launch_id == first.launch_id, ledger.c.profile_id > in_flight
            )
        )
    before = await ledger_rows(engine, first.launch_id)
    # Joins the list after the crash, with an address already sent to.
    twin = await audience.add(
        before[ids[0]]["contact"].upper(), email=audience.address("twin")
    )
    # The audience is the list as it stood at the launch's start: date the
    # twin's subscription before it, as if its batch had been lost in the crash.
    async with engine.begin() as conn:
        await conn.execute(
            update(subscriptions)
            .where(subscriptions.c.profile_id == twin)
            .values(created_at=func.now() - text("interval '1 day'"))
        )

    resumed = await run_campaign(small, engine, campaign_id)

    assert resumed.launch_id == first.launch_id
    sent = sorted(
        header_int(m, "profile_id") for m in await drain(settings.amqp_url, queue)
    )
    assert sent == [ids[9], ids[10], ids[11]]
    after = await ledger_rows(engine, first.launch_id)
    assert {pid: row for pid, row in after.items() if pid in before} == before
    assert after[delivered]["status"] == "delivered"
    assert after[unsubscribed]["reason"] == "not_subscribed"
    assert after[twin]["reason"] == "duplicate_contact"
    assert (resumed.audience, resumed.queued) == (14, 12)
    assert (await launch_row(engine, first.launch_id))["status"] == "finished"


async def test_the_campaign_log_marks_the_begin_and_the_end_with_counts_and_time(
    settings: Settings, engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    await audience.add()
    await audience.add(status=SubStatus.UNSUBSCRIBED)
    campaign_id = await create_campaign(engine, audience.campaign_file(tmp_path))

    summary = await run_campaign(settings, engine, campaign_id)

    entries = await log_entries(engine, summary.launch_id)
    begin, end = entries[0], entries[-1]
    assert (begin["level"], begin["state"], begin["message"]) == (
        "INFO",
        "start",
        "Begin campaign",
    )
    assert (end["level"], end["state"]) == ("INFO", "end")
    assert end["message"] == (
        "Campaign finished: audience 2, queued 1, skipped 1 (not_subscribed 1)"
    )
    assert re.fullmatch(r"\d+\.\dms", end["value"])
    assert float(end["value"][:-2]) == pytest.approx(summary.elapsed * 1000, abs=0.1)


async def test_a_campaign_already_running_elsewhere_is_refused(
    settings: Settings, engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    await audience.add()
    campaign_id = await create_campaign(engine, audience.campaign_file(tmp_path))

    async with campaign_lock(engine, campaign_id):
        with pytest.raises(StateError, match="another process"):
            await run_campaign(settings, engine, campaign_id)

    summary = await run_campaign(settings, engine, campaign_id)
    assert summary.queued == 1


def _run_command(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [POSTLINE, "campaign", "run", *args],
        # Without the INFO log lines, stderr holds what the command says.
        env=settings_env(settings) | {"POSTLINE_LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_the_run_command_prints_a_summary_and_needs_again_to_resend(
    settings: Settings, engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    await audience.add()
    await audience.add(status=SubStatus.UNSUBSCRIBED)
    campaign_id = str(await create_campaign(engine, audience.campaign_file(tmp_path)))

    first = _run_command(settings, campaign_id)
    refused = _run_command(settings, campaign_id)
    again = _run_command(settings, campaign_id, "--again")

    assert first.returncode == 0, first.stderr
    assert re.search(r"^queued\s+1$", first.stdout, re.M)
    assert re.search(r"^\s+not_subscribed\s+1$", first.stdout, re.M)
    assert re.search(r"^elapsed\s+[\d.]+ s$", first.stdout, re.M)
    assert re.search(r"^rate\s+\d+ messages/s", first.stdout, re.M)
    assert refused.returncode == 2
    assert "--again" in refused.stderr
    assert again.returncode == 0, again.stderr
    assert len(await drain(settings.amqp_url, f"akmta_{audience.sender.id}")) == 2


async def test_a_run_with_a_progress_bar_counts_every_member(
    settings: Settings,
    engine: AsyncEngine,
    audience: Audience,
    tmp_path: Path,
) -> None:
    await audience.add_many(7)
    campaign_id = await create_campaign(engine, audience.campaign_file(tmp_path))
    small = settings.model_copy(update={"campaign_batch_size": 3})

    summary = await run_campaign(small, engine, campaign_id, progress=True)

    assert (summary.audience, summary.queued, summary.published) == (7, 7, 7)
    assert len(await drain(settings.amqp_url, f"akmta_{audience.sender.id}")) == 7


async def test_an_unconfirmed_message_that_no_longer_renders_is_given_up_as_skipped(
    settings: Settings, engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    kept = await audience.add(first_name="Ada", fields={"coupon": "C1"})
    changed = await audience.add(first_name="Bob", fields={"coupon": "C2"})
    path = audience.campaign_file(tmp_path, body=COUPON_HTML)
    campaign_id = await create_campaign(engine, path)
    first = await run_campaign(settings, engine, campaign_id)
    queue = f"akmta_{audience.sender.id}"
    await drain(settings.amqp_url, queue)
    # A crash before any confirm, and one profile edited before the resume.
    async with engine.begin() as conn:
        await conn.execute(
            update(launches)
            .where(launches.c.id == first.launch_id)
            .values(status="running", published_through=0)
        )
        await conn.execute(
            update(profiles).where(profiles.c.id == changed).values(fields={})
        )

    resumed = await run_campaign(settings, engine, campaign_id)

    rows = await ledger_rows(engine, resumed.launch_id)
    assert (rows[kept]["status"], rows[changed]["status"]) == ("queued", "skipped")
    assert rows[changed]["reason"] == "template_error"
    republished = await drain(settings.amqp_url, queue)
    assert [header_int(m, "profile_id") for m in republished] == [kept]
    errors = [
        e for e in await log_entries(engine, resumed.launch_id) if e["level"] == "ERROR"
    ]
    assert [(e["profile_id"], e["message"]) for e in errors] == [
        (changed, "html line 3: 'coupon' is undefined")
    ]


async def test_a_member_who_subscribes_after_the_launch_began_waits_for_the_next(
    settings: Settings, engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    ids = await audience.add_many(3)
    campaign_id = await create_campaign(engine, audience.campaign_file(tmp_path))
    small = settings.model_copy(update={"campaign_batch_size": 2})
    first = await run_campaign(small, engine, campaign_id)
    async with engine.begin() as conn:
        await conn.execute(
            update(launches)
            .where(launches.c.id == first.launch_id)
            .values(status="running", finished_at=None, published_through=ids[1])
        )
    late = await audience.add()

    resumed = await run_campaign(small, engine, campaign_id)

    rows = await ledger_rows(engine, first.launch_id)
    assert late not in rows
    assert (resumed.audience, resumed.queued) == (3, 3)


TYPO_HTML = "<p>Hello</p>\n<p>{{ frist_name }}</p>\n"


async def test_a_launch_that_queued_nothing_is_refused_saying_what_happened(
    settings: Settings, engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    await audience.add(first_name="Ada")
    await audience.add(first_name="Bob")
    await audience.add(status=SubStatus.UNSUBSCRIBED)
    path = audience.campaign_file(tmp_path, body=TYPO_HTML)
    campaign_id = await create_campaign(engine, path)
    first = await run_campaign(settings, engine, campaign_id)

    with pytest.raises(StateError) as refused:
        await run_campaign(settings, engine, campaign_id)

    message = str(refused.value)
    assert message.startswith(
        f"campaign {campaign_id}: launch {first.launch_id} finished at "
    )
    assert message.endswith(
        " with nothing queued (0 queued, 3 skipped: not_subscribed 1, "
        "template_error 2); the template errors are in "
        f"`postline campaign log {campaign_id} --level ERROR`; run it with --again "
        "to launch it again, or create a new campaign from a corrected file"
    )
    assert "already sent" not in message


async def test_template_errors_are_grouped_by_text_most_frequent_first(
    settings: Settings, engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    # Each profile names a field it lacks: one kind of error per name.
    for name in ["k00"] * 3 + [f"k{i:02}" for i in range(1, 12)]:
        await audience.add(first_name="Ada", fields={"key": name})
    queued = await audience.add(first_name="Bob", fields={"key": "first_name"})
    path = audience.campaign_file(tmp_path, body="<p>{{ profile[key] }}</p>")
    campaign_id = await create_campaign(engine, path)

    summary = await run_campaign(settings, engine, campaign_id)

    undefined = "html line 1: 'dict object' has no attribute"
    assert summary.template_errors == (
        (f"{undefined} 'k00'", 3),
        *((f"{undefined} 'k{i:02}'", 1) for i in range(1, 10)),
    )
    assert summary.template_error_kinds == 12
    assert (
        summary.error_lines(campaign_id)[0] == f"template_error x3: {undefined} 'k00'"
    )
    assert summary.error_lines(campaign_id)[-1] == (
        "... and 2 more kinds of error: "
        f"postline campaign log {campaign_id} --level ERROR"
    )
    assert not summary.nothing_rendered
    assert (await ledger_rows(engine, summary.launch_id))[queued]["status"] == "queued"


async def test_the_run_command_fails_when_every_recipient_failed_to_render(
    settings: Settings, engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    for name in ("Ada", "Bob", "Cy", "Dee"):
        await audience.add(first_name=name)
    await audience.add(status=SubStatus.UNSUBSCRIBED)
    path = audience.campaign_file(tmp_path, body=TYPO_HTML)
    campaign_id = str(await create_campaign(engine, path))

    done = _run_command(settings, campaign_id)

    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines()[-1] == (
        "template_error x4: html line 2: 'frist_name' is undefined"
    )
    assert re.search(r"^queued\s+0$", done.stdout, re.M)
    assert done.stderr.splitlines() == [
        f"error: campaign {campaign_id}: nothing was queued: the templates failed "
        "for all 4 recipients the rules let through; correct them and create a "
        "new campaign from the corrected file"
    ]


async def test_the_run_command_lists_template_errors_and_succeeds_when_some_render(
    settings: Settings, engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    await audience.add(first_name="Ada", fields={"frist_name": "Ada"})
    await audience.add(first_name="Bob")
    path = audience.campaign_file(tmp_path, body=TYPO_HTML)
    campaign_id = str(await create_campaign(engine, path))

    done = _run_command(settings, campaign_id)

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == (
        "template_error x1: html line 2: 'frist_name' is undefined"
    )
    assert "nothing was queued" not in done.stderr
