"""The SMTP client session: pipelining, the final dot, and failures as replies."""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Session

from mta.helpers import (
    HangUpServer,
    ResettingServer,
    ScriptedServer,
    smtp_until_data,
    smtp_until_final_dot,
)
from postline.devtools.sink import SmtpSink
from postline.errors import DeliveryError, OutcomeUnknownError
from postline.mta.routing import Route
from postline.mta.smtp import SmtpSession

BODY = b"Subject: hi\r\n\r\n.leading dot\r\nend"


@pytest.fixture
async def sink() -> AsyncIterator[SmtpSink]:
    server = SmtpSink()
    await server.start()
    yield server
    await server.stop()


async def _open(port: int, seconds: float = 5.0) -> SmtpSession:
    route = Route(f"127.0.0.1:{port}", (("127.0.0.1", port),))
    return await SmtpSession.open(
        route, helo="mta.test", connect_timeout=seconds, command_timeout=seconds
    )


def _nothing() -> None:
    return None


async def test_one_session_carries_many_messages(sink: SmtpSink) -> None:
    session = await _open(sink.port)
    replies = [
        await session.send(f"b-7.{n}.e@b.test", "ann@x.test", BODY, _nothing)
        for n in range(3)
    ]
    await session.quit()

    assert [r.code for r in replies] == [250, 250, 250]
    assert sink.sessions == 1
    assert set(sink.received) == {"7.0.e", "7.1.e", "7.2.e"}


async def test_a_refused_recipient_is_a_reply_and_the_session_stays_usable(
    sink: SmtpSink,
) -> None:
    session = await _open(sink.port)
    refused = await session.send("b-7.1.e@b.test", "ann+hard@x.test", BODY, _nothing)
    accepted = await session.send("b-7.2.e@b.test", "ann@x.test", BODY, _nothing)
    await session.quit()

    assert (refused.code, refused.local) == (550, False)
    assert refused.verdict().decision == "hard"
    assert accepted.code == 250
    assert sink.received == {"7.2.e": 1}


async def test_with_pipelining_the_envelope_goes_out_in_one_round_trip() -> None:
    async def answer_after_data(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        writer.write(b"220 ready\r\n")
        await reader.readline()
        writer.write(b"250-pipelining.test\r\n250 PIPELINING\r\n")
        # Answer nothing until MAIL, RCPT and DATA have all arrived.
        envelope = [await reader.readline() for _ in range(3)]
        assert [line.split()[0] for line in envelope] == [b"MAIL", b"RCPT", b"DATA"]
        writer.write(b"250 sender ok\r\n250 rcpt ok\r\n354 go\r\n")
        while await reader.readline() != b".\r\n":
            pass
        writer.write(b"250 queued\r\n")
        await reader.readline()

    async with ScriptedServer(answer_after_data) as server:
        session = await _open(server.port, seconds=2.0)
        reply = await session.send("b-7.1.e@b.test", "ann@x.test", BODY, _nothing)
        session.abort()

    assert reply.code == 250


async def test_without_pipelining_commands_go_one_by_one() -> None:
    async def plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 ready\r\n")
        await reader.readline()
        writer.write(b"250 plain.test\r\n")
        for answer in (b"250 ok\r\n", b"250 ok\r\n", b"354 go\r\n"):
            await reader.readline()
            writer.write(answer)
        while await reader.readline() != b".\r\n":
            pass
        writer.write(b"250 queued\r\n")
        await reader.readline()

    async with ScriptedServer(plain) as server:
        session = await _open(server.port, seconds=2.0)
        reply = await session.send("b-7.1.e@b.test", "ann@x.test", BODY, _nothing)
        session.abort()

    assert reply.code == 250


async def test_the_sending_record_is_written_before_the_final_dot() -> None:
    marks: list[str] = []

    async def watch(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        lines = await smtp_until_final_dot(reader, writer)
        marks.append("final dot seen" if marks else "final dot before record")
        assert b"..leading dot\r\n" in lines
        writer.write(b"250 queued\r\n")
        await reader.readline()

    async with ScriptedServer(watch) as server:
        session = await _open(server.port)
        reply = await session.send(
            "b-7.1.e@b.test", "ann@x.test", BODY, lambda: marks.append("record")
        )
        session.abort()

    assert reply.code == 250
    assert marks == ["record", "final dot seen"]


async def test_a_connection_lost_after_the_final_dot_has_an_unknown_outcome() -> None:
    async def vanish(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await smtp_until_final_dot(reader, writer)

    async with ScriptedServer(vanish) as server:
        session = await _open(server.port)
        with pytest.raises(OutcomeUnknownError):
            await session.send("b-7.1.e@b.test", "ann@x.test", BODY, _nothing)


async def _attempts(port: int, count: int) -> list[DeliveryError]:
    """``count`` attempts, one session each; the error each one ended in."""
    failures = []
    for n in range(count):
        session = await _open(port)
        with pytest.raises(DeliveryError) as caught:
            await session.send(f"b-7.{n}.e@b.test", "ann@x.test", BODY, _nothing)
        failures.append(caught.value)
    return failures


async def test_a_reset_answering_the_final_dot_is_a_local_failure_never_unknown() -> (
    None
):
    with HangUpServer("body arrived") as server:
        failures = await _attempts(server.port, 50)

    unknown = [str(f) for f in failures if isinstance(f, OutcomeUnknownError)]
    assert unknown == []
    assert all(str(f).startswith("451 4.4.2 ") for f in failures)
    assert server.closed == 50


async def test_a_reset_with_the_final_dot_unread_is_a_local_failure() -> None:
    with HangUpServer("final dot arrived") as server:
        [failure] = await _attempts(server.port, 1)

    assert not isinstance(failure, OutcomeUnknownError)
    assert str(failure) == (
        f"451 4.4.2 127.0.0.1:{server.port}: server closed with the final dot "
        "unread: connection reset by peer"
    )


async def test_a_clean_close_after_the_final_dot_read_stays_unknown() -> None:
    with HangUpServer("final dot read") as server:
        failures = await _attempts(server.port, 50)

    assert all(isinstance(f, OutcomeUnknownError) for f in failures)
    assert {str(f).split(": ", 1)[1] for f in failures} == {
        "no reply to the final dot: connection closed by the server"
    }


async def test_no_reply_to_the_final_dot_in_time_stays_unknown() -> None:
    async def fall_silent(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await smtp_until_final_dot(reader, writer)
        await reader.read()

    async with ScriptedServer(fall_silent) as server:
        session = await _open(server.port, seconds=0.3)
        with pytest.raises(OutcomeUnknownError) as caught:
            await session.send("b-7.1.e@b.test", "ann@x.test", BODY, _nothing)

    assert str(caught.value).endswith("no reply to the final dot: timed out")


async def test_a_server_that_hangs_up_after_354_fails_locally_before_the_record() -> (
    None
):
    recorded: list[str] = []
    async with ScriptedServer(smtp_until_data) as server:
        session = await _open(server.port)
        with pytest.raises(DeliveryError) as caught:
            await session.send(
                "b-7.1.e@b.test", "ann@x.test", BODY, lambda: recorded.append("x")
            )

    assert not isinstance(caught.value, OutcomeUnknownError)
    assert str(caught.value).startswith(f"451 4.4.2 127.0.0.1:{server.port}: ")
    assert "before the final dot" in str(caught.value)
    assert recorded == []
    assert not session.alive


async def test_a_reply_waiting_before_the_final_dot_fails_locally_and_is_named() -> (
    None
):
    async def speak_out_of_turn(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await smtp_until_data(reader, writer)
        writer.write(b"421 4.3.2 shutting down\r\n")
        await reader.read()

    recorded: list[str] = []
    async with ScriptedServer(speak_out_of_turn) as server:
        session = await _open(server.port)
        with pytest.raises(DeliveryError) as caught:
            await session.send(
                "b-7.1.e@b.test", "ann@x.test", BODY, lambda: recorded.append("x")
            )

    assert not isinstance(caught.value, OutcomeUnknownError)
    assert str(caught.value).endswith("before the final dot: 421 4.3.2 shutting down")
    assert recorded == []


async def test_a_final_dot_whose_write_fails_is_a_local_failure() -> None:
    recorded: list[str] = []
    with ResettingServer() as server:
        session = await _open(server.port)

        def record_then_reset() -> None:
            recorded.append("record")
            server.cue()

        with pytest.raises(DeliveryError) as caught:
            await session.send("b-7.1.e@b.test", "ann@x.test", BODY, record_then_reset)

    assert not isinstance(caught.value, OutcomeUnknownError)
    assert "final dot not sent" in str(caught.value)
    assert recorded == ["record"]


async def test_control_characters_in_a_reply_are_escaped() -> None:
    async def queued_with_nul(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await smtp_until_final_dot(reader, writer)
        writer.write(b"250 ok queued\x00as 1\x1b[0m\tdone\r\n")
        await reader.readline()

    async with ScriptedServer(queued_with_nul) as server:
        session = await _open(server.port)
        reply = await session.send("b-7.1.e@b.test", "ann@x.test", BODY, _nothing)
        session.abort()

    assert reply.code == 250
    assert reply.text == "ok queued\\x00as 1\\x1b[0m\tdone"


async def test_a_connection_lost_before_data_is_a_plain_local_failure() -> None:
    async def drop_at_rcpt(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        writer.write(b"220 ready\r\n")
        await reader.readline()
        writer.write(b"250 plain.test\r\n")
        await reader.readline()

    recorded: list[str] = []
    async with ScriptedServer(drop_at_rcpt) as server:
        session = await _open(server.port)
        with pytest.raises(DeliveryError) as caught:
            await session.send(
                "b-7.1.e@b.test", "ann@x.test", BODY, lambda: recorded.append("x")
            )

    assert not isinstance(caught.value, OutcomeUnknownError)
    assert str(caught.value).startswith("451 4.4.2 ")
    assert recorded == []


async def test_a_refused_connection_is_a_local_reply() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(DeliveryError) as caught:
        await _open(port)

    assert (
        str(caught.value)
        == f"451 4.4.1 connect to 127.0.0.1:{port}: connection refused"
    )


async def test_a_server_that_greets_with_5xx_is_a_local_failure() -> None:
    async def refuse(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        writer.write(b"554 5.7.1 no mail from you, blocklisted\r\n")
        await reader.readline()

    async with ScriptedServer(refuse) as server:
        with pytest.raises(DeliveryError, match=r"refused to talk: 554 5\.7\.1"):
            await _open(server.port)


def _self_signed(directory: Path) -> ssl.SSLContext:
    key, cert = directory / "key.pem", directory / "cert.pem"
    request = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    subprocess.run(
        [*request, "-subj", "/CN=tls.test", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


class _TlsHandler:
    def __init__(self) -> None:
        self.encrypted: list[bool] = []

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: object
    ) -> str:
        self.encrypted.append(session.ssl is not None)
        return "250 2.0.0 OK"


async def test_starttls_is_used_when_the_server_offers_it(tmp_path: Path) -> None:
    context = await asyncio.to_thread(_self_signed, tmp_path)
    handler = _TlsHandler()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="tls.test", tls_context=context, loop=loop),
        "127.0.0.1",
        0,
    )
    port = server.sockets[0].getsockname()[1]
    try:
        session = await _open(port)
        reply = await session.send("b-7.1.e@b.test", "ann@x.test", BODY, _nothing)
        await session.quit()
    finally:
        server.close()
        await server.wait_closed()

    assert reply.code == 250
    assert handler.encrypted == [True]


async def test_a_failed_tls_handshake_is_a_local_failure() -> None:
    async def garble(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        writer.write(b"220 ready\r\n")
        await reader.readline()
        writer.write(b"250-tls.test\r\n250 STARTTLS\r\n")
        await reader.readline()
        writer.write(b"220 go ahead\r\nthis is not a TLS handshake\r\n")
        await reader.read(100)

    async with ScriptedServer(garble) as server:
        with pytest.raises(DeliveryError, match=r"^451 4\.7\.5 TLS handshake"):
            await _open(server.port)
