"""Setting aside the events PostgreSQL refuses, without RabbitMQ.

Validation keeps these values out of real payloads, so each test builds its
bad event past validation (``model_copy`` does not validate): what is tested
is the registrar's answer when a value slips through anyway.
"""

from __future__ import annotations

import logging
import secrets

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from postline.bus.events import StatusEvent
from postline.errors import DataRefusedError, StoreError
from postline.registrar.batch import apply_events
from postline.registrar.isolate import apply_isolating
from postline.store.db import make_engine
from postline.store.tables import events
from registrar.seed import Seed


def delivered(msg_id: str, attempt: int = 1) -> StatusEvent:
    return StatusEvent(message_id=msg_id, status="delivered", attempt=attempt)


def unvalidated(event: StatusEvent, **fields: object) -> StatusEvent:
    return event.model_copy(update=fields)


async def recorded(engine: AsyncEngine, event_ids: list[str]) -> set[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(events.c.event_id).where(events.c.event_id.in_(event_ids))
        )
        return set(rows.scalars())


POISONS: dict[str, tuple[dict[str, object], str]] = {
    "nul_in_reply": ({"reply": "250 ok queued\x00as 1"}, "0x00"),
    "nul_in_channel": ({"channel": "em\x00ail"}, "sqlstate 22"),
    "attempt_beyond_int4": ({"attempt": 1099511627776}, "int32"),
    "huge_message_id": (
        {"message_id": secrets.token_urlsafe(5250)},
        "index row size",
    ),
}


@pytest.mark.parametrize("poison", list(POISONS))
async def test_a_refused_event_is_set_aside_and_the_rest_of_its_batch_applied(
    seed: Seed, engine: AsyncEngine, poison: str
) -> None:
    fields, expected = POISONS[poison]
    good = [await seed.member() for _ in range(6)]
    bad = unvalidated(delivered(await seed.member()), **fields)
    batch = [delivered(m) for m in good[:4]] + [bad] + [delivered(m) for m in good[4:]]

    refused = await apply_isolating(engine, batch)

    assert [(r.index, r.event) for r in refused] == [(4, bad)]
    assert expected in refused[0].reason
    assert refused[0].reason.startswith("refused by PostgreSQL: ")
    assert [(await seed.row(m))["status"] for m in good] == ["delivered"] * 6
    assert await recorded(engine, [bad.event_id]) == set()


async def test_every_refused_event_of_a_large_batch_is_found(
    seed: Seed, engine: AsyncEngine
) -> None:
    messages = [await seed.member() for _ in range(40)]
    batch = [delivered(m) for m in messages]
    for index in (0, 17, 18, 39):
        batch[index] = unvalidated(batch[index], reply=f"250 \x00 {index}")

    refused = await apply_isolating(engine, batch)

    assert [r.index for r in refused] == [0, 17, 18, 39]
    statuses = [(await seed.row(m))["status"] for m in messages]
    assert [i for i, s in enumerate(statuses) if s == "queued"] == [0, 17, 18, 39]
    assert statuses.count("delivered") == 36


async def test_a_batch_without_refusals_is_applied_in_one_transaction(
    seed: Seed, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    messages = [await seed.member() for _ in range(5)]
    caplog.set_level(logging.INFO, logger="postline.registrar")

    refused = await apply_isolating(engine, [delivered(m) for m in messages])

    batches = [r for r in caplog.records if r.getMessage().startswith("batch ")]
    assert refused == []
    assert [r.getMessage().split()[1] for r in batches] == ["events=5"]


async def test_applying_a_refused_event_alone_raises_a_data_refused_error(
    seed: Seed, engine: AsyncEngine
) -> None:
    bad = unvalidated(delivered(await seed.member()), reply="250 \x00")

    with pytest.raises(DataRefusedError, match="0x00"):
        await apply_events(engine, [bad])


async def test_an_unreachable_database_raises_instead_of_refusing_events(
    seed: Seed, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    msg = await seed.member()
    missing = make_engine(database_url.rpartition("/")[0] + "/postline_missing_db")
    caplog.set_level(logging.INFO, logger="postline.registrar")
    try:
        with pytest.raises(StoreError) as caught:
            await apply_isolating(missing, [delivered(msg), delivered(msg, 2)])
    finally:
        await missing.dispose()

    assert not isinstance(caught.value, DataRefusedError)
    assert not any("refused" in r.getMessage() for r in caplog.records)
    assert (await seed.row(msg))["status"] == "queued"
