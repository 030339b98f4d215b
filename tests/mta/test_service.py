"""The MTA on RabbitMQ: queues in, SMTP to the sink, status events out."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aio_pika
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from mta.conftest import EventTap, make_sender, publish, running
from mta.helpers import email
from postline.bus import names
from postline.bus.topology import connect, declare_dead_letters, declare_work_queue
from postline.devtools.sink import SmtpSink
from postline.errors import SpoolError
from postline.mta.records import ADD, decode_all
from postline.mta.service import serve_mta
from postline.settings import Settings


def _kinds(spool: Path) -> list[str]:
    kinds = []
    for segment in sorted(spool.glob("*.journal")):
        kinds += [framed.record.kind for framed in decode_all(segment.read_bytes())]
    return kinds


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_replies_become_delivered_hard_bounce_and_bounce(
    engine: AsyncEngine, mta_settings: Settings, tap: EventTap, sink: SmtpSink
) -> None:
    sender = await make_sender(engine)
    plain = email(1, "ann@example.test", sender_id=sender.id)
    hard = email(2, "bob+hard@example.test", sender_id=sender.id)
    spam = email(3, "cy+spam@example.test", sender_id=sender.id)

    async with running(mta_settings, sender):
        await publish(
            mta_settings.amqp_url, names.mta_queue(sender.id), [plain, hard, spam]
        )
        await tap.until(lambda seen: len(seen) >= 3)

    [delivered] = tap.of(plain.message_id)
    [hard_bounce] = tap.of(hard.message_id)
    [bounce] = tap.of(spam.message_id)
    assert (delivered.status, (delivered.reply or "")[:3]) == ("delivered", "250")
    assert (delivered.contact, delivered.sender_id, delivered.launch_id) == (
        "ann@example.test",
        sender.id,
        7,
    )
    assert (hard_bounce.status, hard_bounce.reason, hard_bounce.decision) == (
        "undelivered",
        "hard_bounce",
        "hard",
    )
    assert hard_bounce.category == "bad-mailbox"
    assert (bounce.status, bounce.reason, bounce.category) == (
        "undelivered",
        "bounce",
        "spam-related",
    )
    assert sink.received == {plain.message_id: 1}


async def test_a_soft_reply_is_deferred_then_delivered_on_retry(
    engine: AsyncEngine, mta_settings: Settings, tap: EventTap, sink: SmtpSink
) -> None:
    sender = await make_sender(engine)
    soft = email(1, "ann+soft@example.test", sender_id=sender.id)

    async with running(mta_settings, sender):
        await publish(mta_settings.amqp_url, names.mta_queue(sender.id), [soft])
        await tap.until(lambda seen: len(seen) >= 2)

    deferred, delivered = tap.of(soft.message_id)
    assert (deferred.status, deferred.attempt, deferred.decision) == (
        "deferred",
        1,
        "soft",
    )
    assert deferred.next_attempt_at is not None
    assert (delivered.status, delivered.attempt) == ("delivered", 2)
    assert sink.received == {soft.message_id: 1}


async def test_a_refused_connection_is_retried_then_exhausts_the_attempts(
    engine: AsyncEngine, mta_settings: Settings, tap: EventTap
) -> None:
    port = _closed_port()
    routes = mta_settings.smtp_routes | {"refused.test": f"127.0.0.1:{port}"}
    settings = mta_settings.model_copy(update={"smtp_routes": routes})
    sender = await make_sender(engine, retry_attempts=1)
    message = email(1, "ann@refused.test", sender_id=sender.id)

    async with running(settings, sender):
        await publish(settings.amqp_url, names.mta_queue(sender.id), [message])
        await tap.until(lambda seen: len(seen) >= 2)

    deferred, exhausted = tap.of(message.message_id)
    assert (deferred.status, deferred.decision) == ("deferred", "local")
    assert (
        deferred.reply == f"451 4.4.1 connect to 127.0.0.1:{port}: connection refused"
    )
    assert (exhausted.status, exhausted.reason, exhausted.attempt) == (
        "undelivered",
        "attempts_exhausted",
        2,
    )


async def test_a_message_past_its_lifetime_expires_without_an_attempt(
    engine: AsyncEngine, mta_settings: Settings, tap: EventTap, sink: SmtpSink
) -> None:
    sender = await make_sender(engine, lifetime=3600)
    old = email(
        1, sender_id=sender.id, queued_at=datetime.now(UTC) - timedelta(hours=2)
    )

    async with running(mta_settings, sender):
        await publish(mta_settings.amqp_url, names.mta_queue(sender.id), [old])
        await tap.until(lambda seen: len(seen) >= 1)

    assert tap.statuses(old.message_id) == [("undelivered", "lifetime_expired", 0)]
    assert tap.of(old.message_id)[0].category == "message-expired"
    assert sink.received == {}


async def test_a_retry_that_would_fall_after_the_lifetime_expires_the_message(
    engine: AsyncEngine, mta_settings: Settings, tap: EventTap
) -> None:
    sender = await make_sender(engine, lifetime=30, retry_interval=60)
    soft = email(1, "ann+soft@example.test", sender_id=sender.id)

    async with running(mta_settings, sender):
        await publish(mta_settings.amqp_url, names.mta_queue(sender.id), [soft])
        await tap.until(lambda seen: len(seen) >= 1)

    assert tap.statuses(soft.message_id) == [("undelivered", "lifetime_expired", 1)]


async def test_a_priority_message_is_delivered_without_being_spooled(
    engine: AsyncEngine, mta_settings: Settings, tap: EventTap, sink: SmtpSink
) -> None:
    sender = await make_sender(engine)
    urgent = email(1, sender_id=sender.id)

    async with running(mta_settings, sender):
        await publish(
            mta_settings.amqp_url, names.mta_priority_queue(sender.id), [urgent]
        )
        await tap.until(lambda seen: len(seen) >= 1)

    assert tap.statuses(urgent.message_id) == [("delivered", None, 1)]
    assert sink.received == {urgent.message_id: 1}
    assert ADD not in _kinds(mta_settings.spool_dir / str(sender.id))


async def test_a_priority_message_past_its_lifetime_expires_and_is_acked(
    engine: AsyncEngine, mta_settings: Settings, tap: EventTap, sink: SmtpSink
) -> None:
    sender = await make_sender(engine, lifetime=20)
    late = email(
        1, sender_id=sender.id, queued_at=datetime.now(UTC) - timedelta(seconds=24)
    )
    queue_name = names.mta_priority_queue(sender.id)

    async with running(mta_settings, sender):
        await publish(mta_settings.amqp_url, queue_name, [late])
        await tap.until(lambda seen: len(seen) >= 1)

    assert tap.statuses(late.message_id) == [("undelivered", "lifetime_expired", 0)]
    assert sink.received == {}
    assert await _waiting(mta_settings.amqp_url, queue_name) == 0


async def _waiting(amqp_url: str, queue_name: str) -> int:
    """Messages left in a queue: an unacked delivery returns there on stop."""
    connection = await connect(amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, passive=True)
        assert queue.declaration_result.message_count is not None
        return queue.declaration_result.message_count
    finally:
        await connection.close()


async def test_a_priority_soft_failure_is_spooled_and_retried(
    engine: AsyncEngine, mta_settings: Settings, tap: EventTap, sink: SmtpSink
) -> None:
    sender = await make_sender(engine)
    urgent = email(1, "ann+soft@example.test", sender_id=sender.id)

    async with running(mta_settings, sender):
        await publish(
            mta_settings.amqp_url, names.mta_priority_queue(sender.id), [urgent]
        )
        await tap.until(lambda seen: len(seen) >= 2)

    assert tap.statuses(urgent.message_id) == [
        ("deferred", None, 1),
        ("delivered", None, 2),
    ]
    assert sink.received == {urgent.message_id: 1}
    assert ADD in _kinds(mta_settings.spool_dir / str(sender.id))


async def test_the_same_message_published_twice_is_delivered_once(
    engine: AsyncEngine, mta_settings: Settings, tap: EventTap, sink: SmtpSink
) -> None:
    sender = await make_sender(engine)
    twice, marker = email(1, sender_id=sender.id), email(2, sender_id=sender.id)

    async with running(mta_settings, sender):
        queue = names.mta_queue(sender.id)
        await publish(mta_settings.amqp_url, queue, [twice, twice, marker])
        await tap.until(lambda seen: len(seen) >= 2)

    assert sink.received == {twice.message_id: 1, marker.message_id: 1}
    assert tap.statuses(twice.message_id) == [("delivered", None, 1)]


async def test_a_finished_message_published_again_to_either_queue_is_dropped(
    engine: AsyncEngine, mta_settings: Settings, tap: EventTap, sink: SmtpSink
) -> None:
    sender = await make_sender(engine)
    first, marker = email(1, sender_id=sender.id), email(2, sender_id=sender.id)
    url = mta_settings.amqp_url

    async with running(mta_settings, sender):
        await publish(url, names.mta_queue(sender.id), [first])
        await tap.until(lambda seen: len(seen) >= 1)
        await publish(url, names.mta_priority_queue(sender.id), [first])
        await publish(url, names.mta_queue(sender.id), [first, marker])
        await tap.until(lambda seen: len(tap.of(marker.message_id)) >= 1)

    assert sink.received == {first.message_id: 1, marker.message_id: 1}


async def test_a_payload_that_cannot_be_parsed_is_dead_lettered(
    engine: AsyncEngine, mta_settings: Settings
) -> None:
    sender = await make_sender(engine)
    connection = await connect(mta_settings.amqp_url)
    channel = await connection.channel()
    dead = await declare_dead_letters(channel)
    await declare_work_queue(channel, names.mta_queue(sender.id))

    async with running(mta_settings, sender):
        await channel.default_exchange.publish(
            aio_pika.Message(b"not an email", message_id="7.1.e"),
            routing_key=names.mta_queue(sender.id),
        )
        async with asyncio.timeout(20), dead.iterator() as messages:
            async for message in messages:
                await message.ack()
                break
    await connection.close()

    assert message.body == b"not an email"
    reason = str((message.headers or {}).get("x-postline-reason", ""))
    assert "lacks" in reason and "rcpt_to" in reason


async def test_a_spool_dir_that_is_a_file_stops_the_mta_with_a_spool_error(
    engine: AsyncEngine, mta_settings: Settings, tmp_path: Path
) -> None:
    sender = await make_sender(engine)
    blocker = tmp_path / "spool-file"
    blocker.write_text("not a directory")
    settings = mta_settings.model_copy(update={"spool_dir": blocker})

    with pytest.raises(SpoolError) as caught:
        await serve_mta(settings, asyncio.Event(), sender_ids=[sender.id])

    assert str(caught.value) == (
        f"spool directory {blocker / str(sender.id)} cannot be created: "
        f"{blocker} is not a directory"
    )
