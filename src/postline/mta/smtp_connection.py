"""One SMTP client connection: connect, greet, EHLO, STARTTLS, QUIT.

``SmtpConnection.open`` connects to the first target of a route that answers,
reads the 220 greeting, says EHLO (HELO if refused) and takes up STARTTLS when
offered, without certificate checks (opportunistic, as between mail servers).
The mail transaction on top of it is ``postline.mta.smtp``.

Transport failures become ``DeliveryError`` whose message reads as a reply
line (``451 4.4.1 connect to host:25: connection refused``); a server that
greets with anything but 220 is one too. It touches only its own socket.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from typing import Self

from postline.errors import DeliveryError
from postline.mta.reply import Reply, read_lines, read_reply
from postline.mta.routing import Route

log = logging.getLogger(__name__)

# What a broken or silent connection raises from asyncio streams.
TRANSPORT_ERRORS = (OSError, TimeoutError, EOFError, ValueError)
_READ_LIMIT = 64 * 1024


class SmtpConnection:
    """An open, greeted connection to one mail server.

    ``command_timeout`` is the seconds to wait for any one reply.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: str,
        command_timeout: float,
    ) -> None:
        self.peer = peer
        self._reader = reader
        self._writer = writer
        self._timeout = command_timeout
        self._extensions: dict[str, str] = {}
        self._broken = False

    @classmethod
    async def open(
        cls,
        route: Route,
        *,
        helo: str,
        connect_timeout: float,
        command_timeout: float,
    ) -> Self:
        """Connect to the first target of the route that answers, greet it."""
        failure = DeliveryError(f"451 4.4.4 route {route.name} has no hosts")
        for host, port in route.targets:
            try:
                return await cls._connect(
                    host, port, helo, connect_timeout, command_timeout
                )
            except DeliveryError as exc:
                failure = exc
        raise failure

    @property
    def alive(self) -> bool:
        return not (self._broken or self._writer.is_closing() or self._reader.at_eof())

    async def quit(self) -> None:
        """Say goodbye politely, within a second, and close."""
        try:
            if self.alive:
                self._writer.write(b"QUIT\r\n")
                await asyncio.wait_for(self._read_reply(), 1.0)
        except TRANSPORT_ERRORS:
            pass
        self.abort()

    def abort(self) -> None:
        self._broken = True
        self._writer.close()

    def _abandon(self) -> None:
        """Close at once, dropping what the transport still holds unsent
        (``close`` would go on sending it).
        """
        self._broken = True
        self._writer.transport.abort()

    @classmethod
    async def _connect(
        cls,
        host: str,
        port: int,
        helo: str,
        connect_timeout: float,
        command_timeout: float,
    ) -> Self:
        peer = f"{host}:{port}"
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, limit=_READ_LIMIT), connect_timeout
            )
        except TRANSPORT_ERRORS as exc:
            raise DeliveryError(
                f"451 4.4.1 connect to {peer}: {describe_failure(exc)}"
            ) from exc

        session = cls(reader, writer, peer, command_timeout)
        try:
            await session._greet(helo, host, connect_timeout)
        except TRANSPORT_ERRORS as exc:
            session.abort()
            raise DeliveryError(
                f"451 4.4.2 {peer}: connection failed while greeting: "
                f"{describe_failure(exc)}"
            ) from exc
        except DeliveryError:
            session.abort()
            raise
        return session

    async def _greet(self, helo: str, host: str, tls_timeout: float) -> None:
        greeting = await self._read_reply()
        if greeting.code != 220:
            raise DeliveryError(
                f"451 4.4.1 {self.peer} refused to talk: {greeting.line}"
            )
        await self._hello(helo)

        if "STARTTLS" in self._extensions:
            await self._start_tls(helo, host, tls_timeout)

    async def _hello(self, helo: str) -> None:
        self._writer.write(f"EHLO {helo}\r\n".encode())
        code, lines = await self._read_lines()
        if 200 <= code < 300:
            self._extensions = _extensions(lines[1:])
            return

        reply = await self._command(f"HELO {helo}")
        if not reply.ok:
            raise DeliveryError(f"451 4.5.0 {self.peer} refused HELO: {reply.line}")
        self._extensions = {}

    async def _start_tls(self, helo: str, host: str, tls_timeout: float) -> None:
        reply = await self._command("STARTTLS")
        if reply.code != 220:
            log.info("starttls_refused peer=%s reply=%r", self.peer, reply.line)
            return

        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            await self._writer.start_tls(
                context, server_hostname=host, ssl_handshake_timeout=tls_timeout
            )
        except TRANSPORT_ERRORS as exc:
            raise DeliveryError(
                f"451 4.7.5 TLS handshake with {self.peer} failed: "
                f"{describe_failure(exc)}"
            ) from exc
        await self._hello(helo)

    async def _command(self, command: str) -> Reply:
        self._writer.write(f"{command}\r\n".encode())
        return await self._read_reply()

    async def _read_reply(self) -> Reply:
        return await read_reply(self._reader, self._timeout)

    async def _read_lines(self) -> tuple[int, list[str]]:
        return await read_lines(self._reader, self._timeout)


def describe_failure(exc: BaseException) -> str:
    """A transport failure in a few words, for a local reply line."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, OSError) and exc.errno:
        # asyncio words a refused connect as "Connect call failed (...)".
        return os.strerror(exc.errno).lower()
    return str(exc) or type(exc).__name__


def _extensions(lines: list[str]) -> dict[str, str]:
    """EHLO keywords (upper case) with their parameters."""
    found: dict[str, str] = {}
    for line in lines:
        keyword, _, params = line.partition(" ")
        found[keyword.upper()] = params
    return found
