"""Applying batches of status events to the ledger, without RabbitMQ."""

from __future__ import annotations

import itertools
import logging
import uuid

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from postline.bus.events import StatusEvent
from postline.errors import StoreError
from postline.registrar.batch import apply_events
from postline.store.db import make_engine
from postline.store.tables import SubStatus, events, stop_list, subscriptions
from registrar.seed import Seed


def event(msg_id: str, status: str, attempt: int = 0, **fields: object) -> StatusEvent:
    return StatusEvent.model_validate(
        {"message_id": msg_id, "status": status, "attempt": attempt, **fields}
    )


async def events_of(engine: AsyncEngine, msg_id: str) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(events.c.event_id)
            .where(events.c.message_id == msg_id)
            .order_by(events.c.id)
        )
        return list(rows.scalars())


async def subscription_statuses(engine: AsyncEngine, address: str) -> list[int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(subscriptions.c.status).where(
                func.lower(subscriptions.c.contact) == address.lower()
            )
        )
        return sorted(rows.scalars())


async def stop_listed(
    engine: AsyncEngine, address: str
) -> list[tuple[str, str | None]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(stop_list.c.reason, stop_list.c.message_id).where(
                func.lower(stop_list.c.contact) == address.lower()
            )
        )
        return [(row.reason, row.message_id) for row in rows]


async def test_a_late_deferred_leaves_a_delivered_message_delivered(
    seed: Seed, engine: AsyncEngine
) -> None:
    msg = await seed.member(status="queued")
    await apply_events(engine, [event(msg, "delivered", 1, reply="250 2.0.0 ok")])

    result = await apply_events(engine, [event(msg, "deferred", 1, reply="421 busy")])

    row = await seed.row(msg)
    assert (row["status"], row["reply"]) == ("delivered", "250 2.0.0 ok")
    assert result.late == 1 and result.applied == 0
    assert len(await events_of(engine, msg)) == 2


@pytest.mark.parametrize(
    "order", list(itertools.permutations(range(3))), ids=lambda o: "-".join(map(str, o))
)
async def test_deferrals_and_a_delivery_in_one_batch_end_delivered_in_any_order(
    seed: Seed, engine: AsyncEngine, order: tuple[int, ...]
) -> None:
    msg = await seed.member(status="queued")
    story = [
        event(msg, "deferred", 1, reply="421 try later"),
        event(msg, "deferred", 2, reply="451 greylisted"),
        event(msg, "delivered", 3, reply="250 ok"),
    ]

    result = await apply_events(engine, [story[i] for i in order])

    row = await seed.row(msg)
    assert (row["status"], row["attempts"], row["reply"]) == ("delivered", 3, "250 ok")
    assert result.applied + result.late == 3


async def test_an_asynchronous_bounce_turns_delivered_into_undelivered(
    seed: Seed, engine: AsyncEngine
) -> None:
    msg = await seed.member(status="delivered", attempts=1, reply="250 ok")
    dsn = event(
        msg, "undelivered", 1, reason="bounce", reply="550 spam", asynchronous=True
    )

    result = await apply_events(engine, [dsn])

    row = await seed.row(msg)
    assert (row["status"], row["reason"], row["reply"]) == (
        "undelivered",
        "bounce",
        "550 spam",
    )
    assert result.applied == 1


async def test_a_synchronous_undelivered_after_delivered_is_only_recorded(
    seed: Seed, engine: AsyncEngine
) -> None:
    msg = await seed.member(status="delivered", attempts=1, reply="250 ok")

    result = await apply_events(
        engine, [event(msg, "undelivered", 2, reason="bounce", reply="554 no")]
    )

    row = await seed.row(msg)
    assert (row["status"], row["reason"], row["reply"]) == ("delivered", None, "250 ok")
    assert result.late == 1
    assert await events_of(engine, msg) == [f"{msg}:2:undelivered"]


async def test_a_second_delivered_changes_nothing(
    seed: Seed, engine: AsyncEngine
) -> None:
    msg = await seed.member(status="queued")
    await apply_events(engine, [event(msg, "delivered", 1, reply="250 first")])

    await apply_events(engine, [event(msg, "delivered", 2, reply="250 second")])

    row = await seed.row(msg)
    assert (row["reply"], row["attempts"]) == ("250 first", 1)


async def test_a_deferral_with_a_higher_attempt_refreshes_attempts_and_reply(
    seed: Seed, engine: AsyncEngine
) -> None:
    msg = await seed.member(status="deferred", attempts=2, reply="421 old")

    await apply_events(engine, [event(msg, "deferred", 1, reply="421 older")])
    assert (await seed.row(msg))["reply"] == "421 old"

    await apply_events(engine, [event(msg, "deferred", 3, reply="452 full")])
    row = await seed.row(msg)
    assert (row["status"], row["attempts"], row["reply"]) == ("deferred", 3, "452 full")


async def test_failed_and_skipped_rows_never_move(
    seed: Seed, engine: AsyncEngine
) -> None:
    failed = await seed.member(status="failed", reason="http_error")
    skipped = await seed.member(status="skipped", reason="stop_listed")

    await apply_events(
        engine,
        [
            event(failed, "delivered", 1),
            event(skipped, "undelivered", 1, reason="bounce", asynchronous=True),
        ],
    )

    assert (await seed.row(failed))["status"] == "failed"
    assert (await seed.row(skipped))["status"] == "skipped"


async def test_the_same_event_twice_in_one_batch_is_recorded_and_applied_once(
    seed: Seed, engine: AsyncEngine
) -> None:
    msg = await seed.member(status="queued")
    twice = event(msg, "deferred", 1, reply="421 later")

    result = await apply_events(engine, [twice, twice])

    assert await events_of(engine, msg) == [f"{msg}:1:deferred"]
    assert (result.events, result.duplicates, result.applied) == (2, 1, 1)


async def test_the_same_event_in_a_later_batch_is_a_duplicate_and_changes_nothing(
    seed: Seed, engine: AsyncEngine
) -> None:
    msg = await seed.member(status="queued")
    await apply_events(engine, [event(msg, "delivered", 1)])
    before = await seed.row(msg)

    result = await apply_events(engine, [event(msg, "delivered", 1)])

    assert await events_of(engine, msg) == [f"{msg}:1:delivered"]
    assert (result.duplicates, result.applied, result.late) == (1, 0, 0)
    assert (await seed.row(msg))["updated_at"] == before["updated_at"]


async def test_a_hard_bounce_hardbounces_every_email_subscription_and_stop_lists(
    seed: Seed, engine: AsyncEngine
) -> None:
    address = f"Gone.{uuid.uuid4().hex[:8]}@Example.test"
    msg = await seed.member(status="deferred", attempts=1, email=address)
    other_list = await Seed.create(engine)
    async with engine.begin() as conn:
        profile_id = (await seed.row(msg))["profile_id"]
        await conn.execute(
            insert(subscriptions).values(
                profile_id=profile_id,
                list_id=other_list.list_id,
                channel="email",
                contact=address.upper(),
            )
        )
    bounce = event(msg, "undelivered", 2, reason="hard_bounce", reply="550 5.1.1 no")

    result = await apply_events(engine, [bounce])

    assert await subscription_statuses(engine, address) == [SubStatus.HARDBOUNCED] * 2
    assert await stop_listed(engine, address) == [("hard_bounce", msg)]
    assert result.hard_bounces == 1


@pytest.mark.parametrize(
    ("status", "reason"), [("deferred", None), ("undelivered", "bounce")]
)
async def test_soft_and_plain_bounces_leave_subscriptions_and_the_stop_list_alone(
    seed: Seed, engine: AsyncEngine, status: str, reason: str | None
) -> None:
    address = f"{uuid.uuid4().hex[:10]}@example.test"
    msg = await seed.member(status="queued", email=address)

    result = await apply_events(engine, [event(msg, status, 1, reason=reason)])

    assert await subscription_statuses(engine, address) == [SubStatus.SUBSCRIBED]
    assert await stop_listed(engine, address) == []
    assert result.hard_bounces == 0


async def test_a_hard_bounce_that_moves_no_row_stop_lists_nothing(
    seed: Seed, engine: AsyncEngine
) -> None:
    address = f"{uuid.uuid4().hex[:10]}@example.test"
    msg = await seed.member(status="delivered", email=address)

    await apply_events(engine, [event(msg, "undelivered", 2, reason="hard_bounce")])

    assert await subscription_statuses(engine, address) == [SubStatus.SUBSCRIBED]
    assert await stop_listed(engine, address) == []


async def test_an_address_already_stop_listed_in_another_spelling_stays_listed_once(
    seed: Seed, engine: AsyncEngine
) -> None:
    address = f"{uuid.uuid4().hex[:10]}@example.test"
    msg = await seed.member(status="queued", email=address)
    async with engine.begin() as conn:
        await conn.execute(
            insert(stop_list).values(
                channel="email", contact=address.upper(), reason="manual"
            )
        )

    await apply_events(engine, [event(msg, "undelivered", 1, reason="hard_bounce")])

    assert await stop_listed(engine, address) == [("manual", None)]


async def test_an_event_for_an_unknown_message_is_kept_and_logged(
    seed: Seed, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    known = await seed.member(status="queued")
    stranger = f"{seed.launch_id}.999999999.e"
    caplog.set_level(logging.INFO, logger="postline.registrar")

    result = await apply_events(
        engine, [event(stranger, "delivered", 1), event(known, "delivered", 1)]
    )

    assert await events_of(engine, stranger) == [f"{stranger}:1:delivered"]
    assert (await seed.row(known))["status"] == "delivered"
    assert (result.unknown, result.applied) == (1, 1)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(stranger in message for message in warnings)
    assert any(
        r.getMessage().startswith("batch events=2 applied=1 duplicates=0 unknown=1")
        for r in caplog.records
    )


async def test_an_event_keeps_its_details_in_the_events_table(
    seed: Seed, engine: AsyncEngine
) -> None:
    msg = await seed.member(status="queued")
    deferred = event(
        msg,
        "deferred",
        1,
        reply="421 4.7.0 slow down",
        decision="soft",
        category="throttled",
        contact="a@example.test",
        sender_id=7,
        next_attempt_at="2030-01-01T00:00:00Z",
    )

    await apply_events(engine, [deferred])

    async with engine.connect() as conn:
        row = (
            await conn.execute(select(events).where(events.c.message_id == msg))
        ).one()
    assert (row.decision, row.category, row.attempt) == ("soft", "throttled", 1)
    assert row.data["contact"] == "a@example.test"
    assert row.data["sender_id"] == 7
    assert row.data["next_attempt_at"].startswith("2030-01-01")


async def test_a_database_that_cannot_be_reached_raises_a_store_error(
    seed: Seed, database_url: str
) -> None:
    msg = await seed.member(status="queued")
    missing = make_engine(database_url.rpartition("/")[0] + "/postline_missing_db")
    try:
        with pytest.raises(StoreError):
            await apply_events(missing, [event(msg, "delivered", 1)])
    finally:
        await missing.dispose()

    assert (await seed.row(msg))["status"] == "queued"
