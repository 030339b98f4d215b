"""One sender's MTA without RabbitMQ: spool in, events out to a list."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mta.helpers import (
    HangUpServer,
    ResettingServer,
    ScriptedServer,
    email,
    eventually,
    sender,
    smtp_until_data,
    smtp_until_final_dot,
)
from mta.test_routing import FakeResolver
from postline.bus.events import StatusEvent
from postline.devtools.sink import SmtpSink
from postline.mta.envelope import Envelope
from postline.mta.routing import Router
from postline.mta.sender import SenderMta
from postline.mta.spool import Interrupted, Spool
from postline.senders import Sender
from postline.settings import Settings, load_settings


class Events:
    """An event sink that keeps what it is given."""

    def __init__(self) -> None:
        self.seen: list[StatusEvent] = []
        self._changed = asyncio.Event()

    async def __call__(self, batch: list[StatusEvent]) -> None:
        self.seen.extend(batch)
        self._changed.set()

    async def until(
        self, done: Callable[[list[StatusEvent]], bool], within: float = 10.0
    ) -> list[StatusEvent]:
        async with asyncio.timeout(within):
            while not done(self.seen):
                self._changed.clear()
                await self._changed.wait()
        return self.seen

    def of(self, message_id: str) -> list[tuple[str, str | None]]:
        return [(e.status, e.reason) for e in self.seen if e.message_id == message_id]


@pytest.fixture
async def sink() -> AsyncIterator[SmtpSink]:
    server = SmtpSink()
    await server.start()
    yield server
    await server.stop()


def _settings(tmp_path: Path, port: int) -> Settings:
    return load_settings(
        spool_dir=tmp_path / "spool",
        smtp_routes={"*": f"127.0.0.1:{port}"},
        smtp_connect_timeout=2.0,
        smtp_command_timeout=5.0,
    )


def _mta(
    tmp_path: Path,
    port: int,
    rule: Sender,
    events: Events,
    router: Router | None = None,
) -> SenderMta:
    return SenderMta(rule, _settings(tmp_path, port), events, router=router)


async def test_a_filled_spool_is_delivered_over_reused_connections(
    tmp_path: Path, sink: SmtpSink
) -> None:
    events = Events()
    mta = _mta(tmp_path, sink.port, sender(connections=2), events)
    await mta.start()
    for n in range(1, 51):
        mta.spool.add(email(n))

    await events.until(lambda seen: len(seen) == 50)
    await mta.stop()

    assert sorted(sink.received.values()) == [1] * 50
    assert {e.status for e in events.seen} == {"delivered"}
    assert sink.sessions <= 2


async def test_sends_are_paced_by_the_strategy(tmp_path: Path, sink: SmtpSink) -> None:
    events = Events()
    mta = _mta(
        tmp_path, sink.port, sender(strategy_messages=20, strategy_interval=1), events
    )
    await mta.start()
    started = time.monotonic()
    for n in range(1, 9):
        mta.spool.add(email(n))

    await events.until(lambda seen: len(seen) == 8)
    elapsed = time.monotonic() - started
    await mta.stop()

    # Eight sends at 20 a second need seven gaps of 50 ms, less one of catch-up.
    assert elapsed >= 0.29


async def test_an_attempt_cut_off_after_the_final_dot_is_not_sent_again(
    tmp_path: Path, sink: SmtpSink
) -> None:
    message = email(1)
    spool = Spool(tmp_path / "spool" / "1", retention=86400)
    spool.open()
    spool.add(message)
    spool.mark_sending(Envelope.of(message), 1)
    spool.close()

    events = Events()
    mta = _mta(tmp_path, sink.port, sender(), events)
    await mta.start()
    [event] = await events.until(lambda seen: len(seen) == 1)
    await mta.stop()

    assert (event.status, event.decision, event.attempt) == ("delivered", "unknown", 1)
    assert event.reply == "250 outcome unknown: process stopped after the final dot"
    assert mta.unknown_outcomes == 1
    assert sink.received == {}


async def test_a_lost_reply_to_the_final_dot_counts_as_delivered_once(
    tmp_path: Path,
) -> None:
    connections = 0

    async def vanish(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        nonlocal connections
        connections += 1
        await smtp_until_final_dot(reader, writer)

    events = Events()
    async with ScriptedServer(vanish) as server:
        mta = _mta(tmp_path, server.port, sender(), events)
        await mta.start()
        mta.spool.add(email(1))
        [event] = await events.until(lambda seen: len(seen) == 1)
        await mta.stop()

    assert (event.status, event.decision) == ("delivered", "unknown")
    assert connections == 1


def _reopened(tmp_path: Path) -> tuple[list[Interrupted], dict[str, int]]:
    """What a restart would find: interrupted attempts, pending messages'
    attempt counts.
    """
    spool = Spool(tmp_path / "spool" / "1", retention=86400)
    interrupted = spool.open()
    attempts = {m: e.attempt for m, e in spool._entries.items()}
    spool.close()
    return interrupted, attempts


async def test_a_server_that_hangs_up_after_354_gets_its_messages_retried(
    tmp_path: Path,
) -> None:
    messages = [email(n) for n in range(1, 21)]
    events = Events()
    async with ScriptedServer(smtp_until_data) as server:
        mta = _mta(tmp_path, server.port, sender(retry_interval=600), events)
        await mta.start()
        for message in messages:
            mta.spool.add(message)
        await events.until(lambda seen: len(seen) == len(messages))
        await mta.stop()
    interrupted, attempts = _reopened(tmp_path)

    assert {(e.status, e.decision) for e in events.seen} == {("deferred", "local")}
    assert all("before the final dot" in (e.reply or "") for e in events.seen)
    assert mta.unknown_outcomes == 0
    assert interrupted == []
    assert attempts == {m.message_id: 1 for m in messages}


async def test_a_final_dot_that_could_not_be_written_is_retried_after_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = email(1)
    events = Events()
    with ResettingServer() as server:
        mta = _mta(tmp_path, server.port, sender(retry_interval=600), events)
        mark_sending = mta.spool.mark_sending

        def mark_then_reset(envelope: Envelope, attempt: int) -> None:
            mark_sending(envelope, attempt)
            server.cue()

        monkeypatch.setattr(mta.spool, "mark_sending", mark_then_reset)
        await mta.start()
        mta.spool.add(message)
        [event] = await events.until(lambda seen: len(seen) == 1)
        await mta.stop()
    interrupted, attempts = _reopened(tmp_path)

    assert (event.status, event.decision, event.attempt) == ("deferred", "local", 1)
    assert "final dot not sent" in (event.reply or "")
    assert mta.unknown_outcomes == 0
    assert interrupted == []
    assert attempts == {message.message_id: 1}


async def test_a_reset_after_the_final_dot_is_retried_after_a_restart(
    tmp_path: Path,
) -> None:
    messages = [email(n) for n in range(1, 11)]
    events = Events()
    with HangUpServer("final dot arrived") as server:
        mta = _mta(tmp_path, server.port, sender(retry_interval=600), events)
        await mta.start()
        for message in messages:
            mta.spool.add(message)
        await events.until(lambda seen: len(seen) == len(messages))
        await mta.stop()
    interrupted, attempts = _reopened(tmp_path)

    assert {(e.status, e.decision) for e in events.seen} == {("deferred", "local")}
    assert all("final dot unread" in (e.reply or "") for e in events.seen)
    assert mta.unknown_outcomes == 0
    assert interrupted == []
    assert attempts == {m.message_id: 1 for m in messages}


async def test_mx_routing_delivers_through_an_injected_resolver(
    tmp_path: Path, sink: SmtpSink
) -> None:
    resolver = FakeResolver(
        {"mx-routed.test": [(10, "mx.mx-routed.test.")], "nomail.test": [(0, ".")]},
        {"mx.mx-routed.test": ["127.0.0.1"]},
        missing={"gone.test"},
    )
    router = Router({}, resolver, mx_port=sink.port)
    events = Events()
    mta = _mta(tmp_path, sink.port, sender(), events, router=router)
    await mta.start()
    delivered, gone, nomail = (
        email(1, "a@mx-routed.test"),
        email(2, "b@gone.test"),
        email(3, "c@nomail.test"),
    )
    for message in (delivered, gone, nomail):
        mta.spool.add(message)

    await events.until(lambda seen: len(seen) == 3)
    await mta.stop()

    assert events.of(delivered.message_id) == [("delivered", None)]
    assert events.of(gone.message_id) == [("undelivered", "hard_bounce")]
    assert events.of(nomail.message_id) == [("undelivered", "hard_bounce")]
    assert sink.received == {delivered.message_id: 1}


async def test_stopping_lets_an_attempt_under_way_finish(
    tmp_path: Path, sink: SmtpSink
) -> None:
    events = Events()
    mta = _mta(tmp_path, sink.port, sender(), events)
    await mta.start()
    slow = email(1, "ann+slow@example.test")
    mta.spool.add(slow)
    await eventually(lambda: sink.sessions > 0, 10, "the attempt to start")

    await mta.stop()

    assert events.of(slow.message_id) == [("delivered", None)]
    assert sink.received == {slow.message_id: 1}


async def test_a_priority_message_past_its_lifetime_expires_without_an_attempt(
    tmp_path: Path, sink: SmtpSink
) -> None:
    events = Events()
    mta = _mta(tmp_path, sink.port, sender(lifetime=20), events)
    await mta.start()
    late = email(1, queued_at=datetime.now(UTC) - timedelta(seconds=24))

    label = await mta.deliver_now(late)
    await events.until(lambda seen: len(seen) == 1)
    again = await mta.deliver_now(late)
    await mta.stop()

    assert label == "lifetime_expired"
    assert events.of(late.message_id) == [("undelivered", "lifetime_expired")]
    assert [e.attempt for e in events.seen] == [0]
    assert again is None
    assert sink.received == {}
    assert sink.sessions == 0
    assert _reopened(tmp_path) == ([], {})
