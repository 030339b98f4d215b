"""The development SMTP sink: answers by tag, counts and records what it accepts."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiosmtplib
import pytest

from conftest import Settings, settings_env
from postline.devtools.sink import SmtpSink
from postline.errors import ConfigError

BODY = "Message-ID: <hello@example.test>\r\nSubject: hi\r\n\r\nHello.\r\n"
VERP = "b-7.42.e@bounce.example.test"


@pytest.fixture
async def sink(tmp_path: Path) -> AsyncIterator[SmtpSink]:
    server = SmtpSink(record=tmp_path / "record.jsonl")
    await server.start()
    yield server
    await server.stop()


def _record_lines(record: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in record.read_text().splitlines()]


def _record_ids(record: Path) -> list[object]:
    return [line["message_id"] for line in _record_lines(record)]


async def _send(port: int, rcpt: str, sender: str = VERP) -> None:
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as client:
        await client.sendmail(sender, [rcpt], BODY)


async def test_a_plain_recipient_is_accepted_and_counted_by_its_verp_id(
    sink: SmtpSink,
) -> None:
    await _send(sink.port, "ann@example.test")

    assert sink.received == {"7.42.e": 1}


async def test_without_a_verp_sender_the_message_id_header_names_the_message(
    sink: SmtpSink,
) -> None:
    await _send(sink.port, "ann@example.test", sender="news@example.test")

    assert sink.received == {"hello@example.test": 1}


async def test_a_hard_tag_is_refused_at_rcpt_with_user_unknown(sink: SmtpSink) -> None:
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as caught:
        await _send(sink.port, "ann+hard@example.test")

    refusal = caught.value.recipients[0]
    assert (refusal.code, refusal.message.split()[0]) == (550, "5.1.1")
    assert not sink.received


async def test_a_soft_tag_is_deferred_once_then_accepted(sink: SmtpSink) -> None:
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as caught:
        await _send(sink.port, "ann+soft@example.test")
    await _send(sink.port, "ann+soft@example.test")

    assert caught.value.recipients[0].code == 451
    assert sink.received == {"7.42.e": 1}


async def test_a_spam_tag_is_rejected_after_data(sink: SmtpSink) -> None:
    with pytest.raises(aiosmtplib.SMTPDataError) as caught:
        await _send(sink.port, "ann+spam@example.test")

    assert (caught.value.code, caught.value.message.split()[0]) == (554, "5.7.1")


async def test_the_sink_offers_pipelining(sink: SmtpSink) -> None:
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=sink.port) as client:
        await client.ehlo()

        assert client.supports_extension("pipelining")


async def test_each_accepted_message_is_recorded_as_a_json_line(
    sink: SmtpSink, tmp_path: Path
) -> None:
    await _send(sink.port, "ann@example.test")

    lines = _record_lines(tmp_path / "record.jsonl")

    assert [line["message_id"] for line in lines] == ["7.42.e"]
    assert lines[0]["rcpt_to"] == ["ann@example.test"]


def test_the_sink_refuses_to_listen_beyond_loopback() -> None:
    with pytest.raises(ConfigError):
        SmtpSink(host="0.0.0.0")


async def test_the_command_records_to_a_file_and_stops_on_sigterm(
    settings: Settings, tmp_path: Path
) -> None:
    record = tmp_path / "cli.jsonl"
    postline = str(Path(sys.executable).parent / "postline")
    process = await asyncio.create_subprocess_exec(
        *[postline, "devtools", "smtp-sink", "--port", "0", "--record", str(record)],
        stdout=subprocess.PIPE,
        env=settings_env(settings),
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        port = int(line.decode().rsplit(":", 1)[1])

        await _send(port, "ann@example.test")
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 10)

    assert code == 0
    assert _record_ids(record) == ["7.42.e"]
