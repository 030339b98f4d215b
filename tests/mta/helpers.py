"""Builders shared by the MTA tests: senders, emails, scripted SMTP servers."""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import struct
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime

from postline.bus.mail import OutboundEmail
from postline.ids import message_id, verp_address
from postline.senders import Sender

BOUNCE_DOMAIN = "bounce.example.test"

SENDER = Sender(
    id=1,
    name="test",
    kind="mta",
    from_email="news@example.test",
    from_name=None,
    bounce_domain=BOUNCE_DOMAIN,
    strategy_messages=100000,
    strategy_interval=1,
    connections=2,
    retry_attempts=2,
    retry_interval=1,
    lifetime=86400,
)


def sender(**changes: object) -> Sender:
    return replace(SENDER, **changes)  # type: ignore[arg-type]


def email(
    profile: int,
    rcpt: str | None = None,
    *,
    sender_id: int = 1,
    launch: int = 7,
    queued_at: datetime | None = None,
    body: bytes | None = None,
) -> OutboundEmail:
    mid = message_id(launch, profile, "email")
    return OutboundEmail(
        message_id=mid,
        mail_from=verp_address(mid, BOUNCE_DOMAIN),
        rcpt_to=rcpt or f"user{profile}@example.test",
        sender_id=sender_id,
        campaign_id=3,
        launch_id=launch,
        profile_id=profile,
        queued_at=queued_at or datetime.now(UTC),
        body=body or f"Subject: hello {profile}\r\n\r\n.Hi\r\n".encode(),
    )


Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class ScriptedServer:
    """A loopback TCP server that runs a test's script per connection."""

    def __init__(self, script: Script) -> None:
        self._script = script
        self._server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> ScriptedServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            await self._script(reader, writer)
        finally:
            writer.close()


async def smtp_until_final_dot(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> list[bytes]:
    """Play a server up to the final dot, pipelining offered; the lines read."""
    seen: list[bytes] = []
    writer.write(b"220 scripted ESMTP\r\n")
    while line := await reader.readline():
        seen.append(line)
        if line.startswith(b"EHLO"):
            writer.write(b"250-scripted\r\n250 PIPELINING\r\n")
        elif line.startswith(b"DATA"):
            writer.write(b"354 go ahead\r\n")
            while (body := await reader.readline()) != b".\r\n":
                seen.append(body)
            return seen
        else:
            writer.write(b"250 OK\r\n")
        await writer.drain()
    return seen


async def eventually(done: Callable[[], bool], within: float, what: str) -> None:
    """Poll ``done`` every 5 ms until it holds; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.005)


async def smtp_until_data(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Play a pipelining server up to its 354 to DATA, then stop (and close)."""
    writer.write(b"220 scripted ESMTP\r\n")
    await reader.readline()
    writer.write(b"250-scripted\r\n250 PIPELINING\r\n")
    for _ in range(3):
        await reader.readline()
    writer.write(b"250 sender ok\r\n250 rcpt ok\r\n354 go ahead\r\n")
    await writer.drain()


class ResettingServer:
    """A loopback SMTP server, in a thread, that resets the connection on cue.

    It answers one transaction up to 354 and then waits; ``cue()``, called by
    the client's side between the body and the final dot (where the SENDING
    record is written), makes it close with a reset and returns once the
    reset is sent, so the client's write of the final dot fails.
    """

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(10)
        self.port = self._listener.getsockname()[1]
        self._go = threading.Event()
        self._reset = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> ResettingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._go.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(10)

    def cue(self) -> None:
        self._go.set()
        assert self._reset.wait(10), "the server did not reset the connection"

    def _serve(self) -> None:
        connection, _ = self._listener.accept()
        connection.settimeout(10)
        lines = connection.makefile("rb")
        connection.sendall(b"220 resetting ESMTP\r\n")
        lines.readline()
        connection.sendall(b"250-resetting\r\n250 PIPELINING\r\n")
        for _ in range(3):
            lines.readline()
        connection.sendall(b"250 sender ok\r\n250 rcpt ok\r\n354 go ahead\r\n")

        self._go.wait(10)
        # A zero linger turns the close into a reset.
        connection.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
        )
        lines.close()
        connection.close()
        self._reset.set()


class HangUpServer:
    """A loopback SMTP server, in a thread, that answers each connection up to
    its 354 to DATA and then closes without replying.

    ``close_when`` says when it closes: ``"body arrived"`` (nothing read, so
    the kernel answers with a reset that races the client's final dot),
    ``"final dot arrived"`` (still unread: a reset after the dot went out) or
    ``"final dot read"`` (a clean end of stream). ``closed`` counts the
    connections it closed.
    """

    def __init__(self, close_when: str) -> None:
        assert close_when in ("body arrived", "final dot arrived", "final dot read")
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self.closed = 0
        self._close_when = close_when
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> HangUpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(10)
                self._answer_until_data(connection)
            self.closed += 1

    def _answer_until_data(self, connection: socket.socket) -> None:
        lines = connection.makefile("rb")
        connection.sendall(b"220 hang-up ESMTP\r\n")
        lines.readline()
        connection.sendall(b"250-hang-up\r\n250 PIPELINING\r\n")
        for _ in range(3):
            lines.readline()
        connection.sendall(b"250 sender ok\r\n250 rcpt ok\r\n354 go ahead\r\n")

        if self._close_when == "final dot read":
            while lines.readline() not in (b".\r\n", b""):
                pass
        elif self._close_when == "final dot arrived":
            _peek_until(connection, b"\r\n.\r\n")
        else:
            select.select([connection], [], [], 10)
        lines.close()


def _peek_until(connection: socket.socket, ending: bytes) -> None:
    """Wait until the unread bytes end with ``ending``, taking none of them."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        waiting = connection.recv(1 << 20, socket.MSG_PEEK)
        if waiting.endswith(ending) or not waiting:
            return
        time.sleep(0.001)
