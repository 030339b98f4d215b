"""The campaign report: counts by status and reason against the audience."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from postline.errors import NotFoundError
from postline.reports import CampaignReport, campaign_report, print_campaign_report
from postline.store.tables import campaign_log
from registrar.seed import Seed
from reports.conftest import finish_launch

STATUSES = [
    ("queued", None),
    ("deferred", None),
    ("delivered", None),
    ("delivered", None),
    ("delivered", None),
    ("undelivered", "hard_bounce"),
    ("undelivered", "hard_bounce"),
    ("undelivered", "bounce"),
    ("undelivered", None),
    ("skipped", "not_subscribed"),
    ("skipped", "not_subscribed"),
    ("failed", "http_error"),
]


async def add_log(seed: Seed, level: str, launch_id: int | None = None) -> None:
    async with seed.engine.begin() as conn:
        await conn.execute(
            insert(campaign_log).values(
                campaign_id=seed.campaign_id,
                launch_id=launch_id or seed.launch_id,
                level=level,
                message="entry",
            )
        )


def render(report: CampaignReport) -> str:
    """The report as a colour terminal would receive it."""
    out = io.StringIO()
    console = Console(
        file=out, force_terminal=True, color_system="standard", highlight=False
    )
    print_campaign_report(report, console)
    return out.getvalue()


async def test_counts_by_status_and_reason_add_up_to_the_audience(
    seed: Seed, engine: AsyncEngine
) -> None:
    for status, reason in STATUSES:
        await seed.member(status=status, reason=reason)
    await seed.mark_started()
    await add_log(seed, "ERROR")
    await add_log(seed, "ERROR")
    await add_log(seed, "INFO")

    report = await campaign_report(engine, seed.campaign_id)

    assert report.launch_id == seed.launch_id
    assert report.audience == len(STATUSES)
    assert (report.queued, report.deferred, report.delivered, report.failed) == (
        1,
        1,
        3,
        1,
    )
    assert report.undelivered == {"hard_bounce": 2, "bounce": 1, "undefined": 1}
    assert report.skipped == {"not_subscribed": 2}
    assert report.log_errors == 2
    assert report.adds_up and report.difference == 0
    assert report.in_flight == 2


async def test_an_audience_member_without_a_ledger_row_shows_as_a_difference(
    seed: Seed, engine: AsyncEngine
) -> None:
    await seed.member(status="delivered")
    await seed.member(status=None)
    await seed.mark_started()

    report = await campaign_report(engine, seed.campaign_id)

    assert (report.audience, report.accounted, report.difference) == (2, 1, 1)
    assert not report.adds_up
    assert "\x1b[1;31mThe counts do not add up: 1 ledger rows" in render(report)


async def test_subscribers_who_joined_after_the_launch_started_are_not_its_audience(
    seed: Seed, engine: AsyncEngine
) -> None:
    await seed.member(status="delivered")
    await seed.mark_started()
    await seed.member(status=None)

    report = await campaign_report(engine, seed.campaign_id)

    assert (report.audience, report.adds_up) == (1, True)


async def test_the_latest_launch_is_reported_unless_another_is_named(
    seed: Seed, engine: AsyncEngine
) -> None:
    await seed.member(status="delivered")
    await seed.mark_started()
    later = await seed.new_launch()
    await later.member(status="failed")
    await later.mark_started()
    await add_log(seed, "ERROR", later.launch_id)

    latest = await campaign_report(engine, seed.campaign_id)
    first = await campaign_report(engine, seed.campaign_id, seed.launch_id)

    assert (latest.launch_id, latest.failed, latest.delivered) == (
        later.launch_id,
        1,
        0,
    )
    assert (latest.log_errors, first.log_errors) == (1, 0)
    assert (first.launch_id, first.failed, first.delivered) == (seed.launch_id, 0, 1)


async def test_a_missing_campaign_or_a_launch_of_another_campaign_is_not_found(
    seed: Seed, engine: AsyncEngine
) -> None:
    other = await Seed.create(engine)

    with pytest.raises(NotFoundError, match="does not exist"):
        await campaign_report(engine, 10**12)
    with pytest.raises(NotFoundError, match="has no launch"):
        await campaign_report(engine, seed.campaign_id, other.launch_id)


async def test_the_json_form_carries_the_totals(
    seed: Seed, engine: AsyncEngine
) -> None:
    await seed.member(status="undelivered", reason="bounce")
    await seed.member(status="skipped", reason="stop_listed")
    await seed.mark_started()

    data = (await campaign_report(engine, seed.campaign_id)).to_dict()

    assert data["undelivered_total"] == 1 and data["skipped_total"] == 1
    assert (data["audience"], data["accounted"], data["adds_up"]) == (2, 2, True)
    assert data["in_flight"] == 0


async def test_the_json_form_counts_messages_in_flight(
    seed: Seed, engine: AsyncEngine
) -> None:
    for status in ("queued", "submitted", "deferred", "delivered"):
        await seed.member(status=status)
    await seed.mark_started()

    data = (await campaign_report(engine, seed.campaign_id)).to_dict()

    assert (data["in_flight"], data["adds_up"]) == (3, True)


async def test_a_finished_launch_with_messages_in_flight_says_the_counts_are_not_final(
    seed: Seed, engine: AsyncEngine
) -> None:
    for status in ("queued", "deferred", "deferred", "delivered"):
        await seed.member(status=status)
    await seed.mark_started()
    await finish_launch(seed)

    report = await campaign_report(engine, seed.campaign_id)
    text = render(report)

    assert (report.launch_status, report.in_flight, report.adds_up) == (
        "finished",
        3,
        True,
    )
    assert "launch finished, 3 messages in flight" in text
    assert (
        "3 messages still on their way (queued 1, deferred 2); "
        "run the report again later." in text
    )
    assert "(finished)" not in text
    assert "The counts add up" not in text
    assert "the counts are not final yet" in text


async def test_a_finished_launch_whose_messages_are_all_final_adds_up(
    seed: Seed, engine: AsyncEngine
) -> None:
    await seed.member(status="delivered")
    await seed.member(status="undelivered", reason="hard_bounce")
    await seed.mark_started()
    await finish_launch(seed)

    report = await campaign_report(engine, seed.campaign_id)
    text = render(report)

    assert report.in_flight == 0
    assert "launch finished, no messages in flight" in text
    assert "\x1b[32mThe counts add up to the audience (2).\x1b[0m" in text
    assert "on their way" not in text and "on its way" not in text


async def test_one_submitted_message_is_named_in_the_singular(
    seed: Seed, engine: AsyncEngine
) -> None:
    await seed.member(status="submitted")
    await seed.mark_started()

    text = render(await campaign_report(engine, seed.campaign_id))

    assert "launch running, 1 message in flight" in text
    assert "1 message still on its way (submitted 1);" in text


async def test_messages_delivered_after_a_soft_bounce_are_counted_apart(
    seed: Seed, engine: AsyncEngine
) -> None:
    await seed.member(status="delivered", attempts=1)
    await seed.member(status="delivered", attempts=2)
    await seed.member(status="delivered", attempts=3)
    await seed.member(status="undelivered", reason="attempts_exhausted", attempts=4)
    await seed.mark_started()
    await finish_launch(seed)

    report = await campaign_report(engine, seed.campaign_id)

    assert report.delivered_after_retry == 2
    assert "Delivered after a soft bounce and a retry: 2 messages" in render(report)


async def test_deliveries_whose_final_dot_went_unanswered_are_shown_apart(
    seed: Seed, engine: AsyncEngine
) -> None:
    await seed.member(status="delivered", reply="250 2.0.0 ok")
    await seed.member(
        status="delivered",
        reply="250 outcome unknown: process stopped after the final dot",
    )
    await seed.mark_started()
    await finish_launch(seed)

    report = await campaign_report(engine, seed.campaign_id)

    assert report.delivered_unconfirmed == 1
    assert "Delivered but unconfirmed" in render(report)
    assert ": 1 message" in render(report)
