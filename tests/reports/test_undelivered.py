"""The non-delivery report: undelivered rows by domain and bounce text."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from postline.errors import NotFoundError
from postline.reports import undelivered_report, write_undelivered_csv
from postline.reports.undelivered import ALL_CAMPAIGNS, COLUMNS
from registrar.seed import Seed

NO_USER = "550 5.1.1 <x>: no such user"


async def bounce_story(seed: Seed, domain_a: str, domain_b: str) -> None:
    """Undelivered rows to two domains, plus rows the report must leave out."""
    for _ in range(3):
        await seed.member(
            status="undelivered",
            reason="hard_bounce",
            reply=NO_USER,
            email=f"{uuid.uuid4().hex[:8]}@{domain_a}",
        )
    await seed.member(
        status="undelivered",
        reason="lifetime_expired",
        email=f"{uuid.uuid4().hex[:8]}@{domain_a.upper()}",
    )
    await seed.member(
        status="undelivered",
        reason="hard_bounce",
        reply=NO_USER,
        email=f"{uuid.uuid4().hex[:8]}@{domain_b}",
    )
    for status, reason in [("deferred", None), ("skipped", "stop_listed")]:
        await seed.member(
            status=status, reason=reason, email=f"{uuid.uuid4().hex[:8]}@{domain_a}"
        )
    await seed.member(status="failed", email=f"{uuid.uuid4().hex[:8]}@{domain_b}")


def domains() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:8]
    return f"a-{tag}.test", f"b-{tag}.test"


async def test_only_undelivered_rows_are_counted_by_domain_and_text_largest_first(
    seed: Seed, engine: AsyncEngine
) -> None:
    domain_a, domain_b = domains()
    await bounce_story(seed, domain_a, domain_b)

    rows = await undelivered_report(engine, seed.campaign_id)

    assert [(r.to_domain, r.bounce_text, r.count) for r in rows] == [
        (domain_a, NO_USER, 3),
        (domain_a, "lifetime_expired", 1),
        (domain_b, NO_USER, 1),
    ]
    assert {(r.group, r.campaign_id) for r in rows} == {
        (seed.campaign_name, seed.campaign_id)
    }


async def test_grouping_by_campaign_keeps_campaigns_apart(
    engine: AsyncEngine,
) -> None:
    domain_a, domain_b = domains()
    first, second = await Seed.create(engine), await Seed.create(engine)
    await bounce_story(first, domain_a, domain_b)
    await bounce_story(second, domain_a, domain_b)

    grouped = await undelivered_report(engine, group_by_campaign=True)
    merged = await undelivered_report(engine)

    mine = [r for r in grouped if r.to_domain in (domain_a, domain_b)]
    assert sorted((r.campaign_id, r.to_domain, r.count) for r in mine) == sorted(
        (seed.campaign_id, domain, count)
        for seed in (first, second)
        for domain, count in [(domain_a, 3), (domain_a, 1), (domain_b, 1)]
    )
    together = [r for r in merged if r.to_domain in (domain_a, domain_b)]
    assert [(r.group, r.to_domain, r.bounce_text, r.count) for r in together] == [
        (ALL_CAMPAIGNS, domain_a, NO_USER, 6),
        (ALL_CAMPAIGNS, domain_a, "lifetime_expired", 2),
        (ALL_CAMPAIGNS, domain_b, NO_USER, 2),
    ]
    counts = [r.count for r in merged]
    assert counts == sorted(counts, reverse=True)


async def test_the_csv_has_the_workflow_columns(
    seed: Seed, engine: AsyncEngine
) -> None:
    domain_a, domain_b = domains()
    await bounce_story(seed, domain_a, domain_b)
    out = io.StringIO()

    write_undelivered_csv(await undelivered_report(engine, seed.campaign_id), out)

    lines = list(csv.reader(io.StringIO(out.getvalue())))
    assert tuple(lines[0]) == COLUMNS
    assert lines[1][1:] == [domain_a, NO_USER, "3"]
    assert len(lines) == 4


async def test_replies_quoting_their_recipient_count_as_one_bounce_text(
    seed: Seed, engine: AsyncEngine
) -> None:
    domain, _ = domains()
    for name in ("ana", "ben", "cleo"):
        await seed.member(
            status="undelivered",
            reason="hard_bounce",
            reply=f"550 5.1.1 <{name}@{domain}>: user unknown",
            email=f"{name}@{domain}",
        )

    rows = await undelivered_report(engine, seed.campaign_id)

    assert [(r.to_domain, r.bounce_text, r.count) for r in rows] == [
        (domain, "550 5.1.1 <<email>>: user unknown", 3)
    ]


async def test_a_campaign_that_does_not_exist_is_an_error_not_an_empty_report(
    engine: AsyncEngine,
) -> None:
    with pytest.raises(NotFoundError, match="campaign 987654321 does not exist"):
        await undelivered_report(engine, 987654321)
