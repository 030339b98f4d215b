"""A campaign end to end: RabbitMQ, the MTA, an SMTP sink, the registrar.

Every part is the real one, in this process: the campaign run publishes to
``akmta_<sender>``, the MTA spools and delivers to the sink on loopback, its
status events go through RabbitMQ to the registrar, which moves the ledger.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from conftest import unique
from postline.campaigns import create_campaign, run_campaign
from postline.contacts import import_contacts
from postline.devtools.sink import SmtpSink
from postline.mta.service import serve_mta
from postline.registrar.service import serve_registrar
from postline.reports import campaign_report
from postline.senders import SenderConfig, apply_senders
from postline.settings import Settings
from postline.store.tables import SubStatus, ledger, stop_list, subscriptions

FINAL = {"skipped", "delivered", "undelivered", "failed"}

# (local part, status column, expected status, expected reason)
PEOPLE = [
    *[(f"reader{i}", "subscribed", "delivered", None) for i in range(30)],
    *[(f"gone{i}+hard", "subscribed", "undelivered", "hard_bounce") for i in range(3)],
    *[(f"busy{i}+soft", "subscribed", "delivered", None) for i in range(3)],
    *[(f"filter{i}+spam", "subscribed", "undelivered", "bounce") for i in range(2)],
    *[(f"left{i}", "unsubscribed", "skipped", "not_subscribed") for i in range(2)],
    ("blocked", "subscribed", "skipped", "stop_listed"),
]


@dataclass
class World:
    settings: Settings
    sink: SmtpSink
    domain: str


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    sink = SmtpSink()
    await sink.start()
    routed = settings.model_copy(
        update={"smtp_routes": {"*": f"127.0.0.1:{sink.port}"}}
    )
    try:
        yield World(routed, sink, f"{unique('e2e')}.example.com")
    finally:
        await sink.stop()


def _write_inputs(tmp: Path, world: World, list_name: str, sender: str) -> Path:
    rows = ["email,first_name,status,plan"]
    rows += [f"{local}@{world.domain},Kim,{status},pro" for local, status, *_ in PEOPLE]
    (tmp / "contacts.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp / "body.html").write_text(
        "<p>Hello {{ first_name }}</p>{% if plan == 'pro' %}<p>Pro</p>{% endif %}"
        '<a href="{{ unsubscribe_url }}">unsubscribe</a>',
        encoding="utf-8",
    )
    campaign = tmp / "campaign.yaml"
    campaign.write_text(
        f"name: End to end\nlist: {list_name}\nsender: {sender}\n"
        "subject: 'Hi {{ first_name }}'\nhtml_file: body.html\n",
        encoding="utf-8",
    )
    return campaign


async def _wait_final(engine: AsyncEngine, launch_id: int, total: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = await _ledger(engine, launch_id)
        if len(rows) == total and all(r[1] in FINAL for r in rows.values()):
            return
        await asyncio.sleep(0.2)
    pytest.fail(f"launch {launch_id}: not every message reached a final status")


async def _ledger(
    engine: AsyncEngine, launch_id: int
) -> dict[str, tuple[str, str, str | None, int]]:
    query = select(
        ledger.c.contact,
        ledger.c.message_id,
        ledger.c.status,
        ledger.c.reason,
        ledger.c.attempts,
    ).where(ledger.c.launch_id == launch_id)
    async with engine.connect() as conn:
        return {
            row.contact.split("@")[0]: (
                row.message_id,
                row.status,
                row.reason,
                row.attempts,
            )
            for row in await conn.execute(query)
        }


async def test_every_recipient_ends_in_the_status_its_mailbox_calls_for(
    world: World, engine: AsyncEngine, tmp_path: Path
) -> None:
    list_name, sender_name = unique("list"), unique("sender")
    campaign_file = _write_inputs(tmp_path, world, list_name, sender_name)
    await import_contacts(engine, tmp_path / "contacts.csv", list_name)
    await apply_senders(
        engine,
        [
            SenderConfig(
                name=sender_name,
                from_email="news@example.com",
                bounce_domain="bounces.example.com",
                strategy_messages=1000,
                strategy_interval=1,
                retry_attempts=3,
                retry_interval=1,
            )
        ],
    )
    async with engine.begin() as conn:
        await conn.execute(
            insert(stop_list).values(
                channel="email", contact=f"blocked@{world.domain}", reason="manual"
            )
        )
    campaign_id = await create_campaign(engine, campaign_file)

    stop = asyncio.Event()
    services = [
        asyncio.create_task(serve_mta(world.settings, stop)),
        asyncio.create_task(serve_registrar(world.settings, stop)),
    ]
    try:
        summary = await run_campaign(world.settings, engine, campaign_id)
        await _wait_final(engine, summary.launch_id, len(PEOPLE))
    finally:
        stop.set()
        await asyncio.gather(*services)

    rows = await _ledger(engine, summary.launch_id)
    for local, _, status, reason in PEOPLE:
        assert rows[local][1:3] == (status, reason), local
    delivered = {row[0] for row in rows.values() if row[1] == "delivered"}
    assert dict(world.sink.received) == dict.fromkeys(delivered, 1)
    soft = [rows[local] for local, *_ in PEOPLE if local.endswith("+soft")]
    assert all(row[3] >= 1 for row in soft)

    report = await campaign_report(engine, campaign_id)
    assert report.adds_up
    assert report.audience == len(PEOPLE)

    # A hard bounce marks the subscription and stops the address for good.
    hard = [f"{local}@{world.domain}" for local, *_ in PEOPLE if "+hard" in local]
    async with engine.connect() as conn:
        listed = (
            await conn.execute(
                select(stop_list.c.contact).where(stop_list.c.contact.in_(hard))
            )
        ).scalars()
        statuses = (
            await conn.execute(
                select(subscriptions.c.status).where(subscriptions.c.contact.in_(hard))
            )
        ).scalars()
        assert set(listed) == set(hard)
        assert set(statuses) == {SubStatus.HARDBOUNCED}
