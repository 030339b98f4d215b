"""The SMTP client side of one connection, written for the spool's needs.

It drives the transaction itself so that the moment before the final dot is
visible: ``send`` writes the body, calls ``before_final()`` (the spool's
SENDING record) and writes the final dot with no await in between. MAIL, RCPT
and DATA go out in one write when the server offers PIPELINING (RFC 2920).
STARTTLS is used when offered, without certificate checks (opportunistic, as
between mail servers).

Transport failures become ``DeliveryError`` whose message reads as a reply
line (``451 4.4.1 connect to host:25: connection refused``). Only a connection
lost after the final dot was handed to the kernel becomes
``OutcomeUnknownError``: a connection found closed before the dot, or a dot
whose write failed, cannot have delivered anything and is a plain local
failure. Remote replies are returned (``postline.mta.reply``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import select
import ssl
from collections.abc import Callable

from postline.errors import DeliveryError, OutcomeUnknownError
from postline.mta.reply import Reply, read_lines, read_reply
from postline.mta.routing import Route

log = logging.getLogger(__name__)

_TRANSPORT_ERRORS = (OSError, TimeoutError, EOFError, ValueError)
_LINE_ENDS = re.compile(rb"\r\n|\n|\r(?!\n)")
_LEADING_DOT = re.compile(rb"(?m)^\.")
_UNSAFE = re.compile(r"[\x00-\x20\x7f<>]")
_READ_LIMIT = 64 * 1024


class SmtpSession:
    """An open, greeted connection to one mail server."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: str,
        command_timeout: float,
    ) -> None:
        self.peer = peer
        self.sent = 0
        self._reader = reader
        self._writer = writer
        self._timeout = command_timeout
        self._extensions: dict[str, str] = {}
        self._needs_reset = False
        self._broken = False

    @classmethod
    async def open(
        cls,
        route: Route,
        *,
        helo: str,
        connect_timeout: float,
        command_timeout: float,
    ) -> SmtpSession:
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

    async def send(
        self,
        mail_from: str,
        rcpt_to: str,
        body: bytes,
        before_final: Callable[[], None],
    ) -> Reply:
        """One transaction. ``before_final`` runs just before the final dot."""
        bad = _bad_address(mail_from, rcpt_to)
        if bad is not None:
            return bad

        data = _data(body)
        stage = "MAIL"
        try:
            refusal = await self._envelope(mail_from, rcpt_to, data)
            if refusal is not None:
                return refusal
            stage = "DATA"
            self._writer.write(data)
            await self._flush()
        except _TRANSPORT_ERRORS as exc:
            self.abort()
            raise DeliveryError(
                f"451 4.4.2 {self.peer}: connection failed during {stage}: "
                f"{_describe(exc)}"
            ) from exc

        return await self._finish(before_final)

    async def quit(self) -> None:
        """Say goodbye politely, within a second, and close."""
        try:
            if self.alive:
                self._writer.write(b"QUIT\r\n")
                await asyncio.wait_for(self._read_reply(), 1.0)
        except _TRANSPORT_ERRORS:
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
    ) -> SmtpSession:
        peer = f"{host}:{port}"
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, limit=_READ_LIMIT), connect_timeout
            )
        except _TRANSPORT_ERRORS as exc:
            raise DeliveryError(
                f"451 4.4.1 connect to {peer}: {_describe(exc)}"
            ) from exc

        session = cls(reader, writer, peer, command_timeout)
        try:
            await session._greet(helo, host, connect_timeout)
        except _TRANSPORT_ERRORS as exc:
            session.abort()
            raise DeliveryError(
                f"451 4.4.2 {peer}: connection failed while greeting: {_describe(exc)}"
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
        except _TRANSPORT_ERRORS as exc:
            raise DeliveryError(
                f"451 4.7.5 TLS handshake with {self.peer} failed: {_describe(exc)}"
            ) from exc
        await self._hello(helo)

    async def _envelope(
        self, mail_from: str, rcpt_to: str, data: bytes
    ) -> Reply | None:
        """Send RSET (if due), MAIL, RCPT and DATA; a refusal, or None at 354."""
        commands = ["RSET"] if self._needs_reset else []
        commands += [
            self._mail_command(mail_from, data),
            f"RCPT TO:<{rcpt_to}>",
            "DATA",
        ]
        self._needs_reset = False

        if "PIPELINING" in self._extensions:
            self._writer.write("".join(f"{c}\r\n" for c in commands).encode())
            replies = [await self._read_reply() for _ in commands]
        else:
            replies = await self._one_by_one(commands)

        answered = list(zip(commands, replies, strict=False))
        refusal = next(
            (r for c, r in answered if c not in ("RSET", "DATA") and not r.ok), None
        )
        data_reply = replies[-1] if answered[-1][0] == "DATA" else None
        if refusal is not None and data_reply is not None and data_reply.code == 354:
            # DATA was accepted although MAIL or RCPT was refused: end it empty.
            self._writer.write(b".\r\n")
            await self._read_reply()
        if refusal is None and data_reply is not None and data_reply.code != 354:
            refusal = data_reply

        for reply in replies:
            self._note_closing(reply)
        if refusal is not None:
            self._needs_reset = True
        return refusal

    async def _one_by_one(self, commands: list[str]) -> list[Reply]:
        replies = []
        for command in commands:
            reply = await self._command(command)
            replies.append(reply)
            if command != "RSET" and reply.code >= 400:
                break
        return replies

    async def _finish(self, before_final: Callable[[], None]) -> Reply:
        await self._check_still_open()
        try:
            before_final()
        except BaseException:
            self.abort()
            raise
        # No await between the SENDING record and the final dot.
        self._writer.write(b".\r\n")
        await self._check_final_dot_left()

        try:
            reply = await self._read_reply()
        except _TRANSPORT_ERRORS as exc:
            self.abort()
            raise OutcomeUnknownError(
                f"451 4.4.2 {self.peer}: no reply to the final dot: {_describe(exc)}"
            ) from exc

        self.sent += 1
        if not reply.ok:
            self._needs_reset = True
        self._note_closing(reply)
        return reply

    async def _flush(self) -> None:
        """Wait until the transport has handed every byte written to the kernel.

        Over TLS the stream sees only the TLS layer's buffer: bytes it passed
        on to the socket's transport count as handed over.
        """
        if self._writer.get_extra_info("sslcontext") is None:
            # Pause at any byte held back, so drain returns once none is left.
            self._writer.transport.set_write_buffer_limits(high=0)
        await asyncio.wait_for(self._writer.drain(), self._timeout)

    async def _check_still_open(self) -> None:
        """Fail locally if the server closed, reset or spoke since its 354.

        A final dot sent then would go nowhere, or be answered by a reply
        that belongs to something else; no SENDING record is written.
        """
        if not self._server_stirred():
            return

        try:
            said = (await asyncio.wait_for(self._read_reply(), self._timeout)).line
        except _TRANSPORT_ERRORS as exc:
            said = _describe(exc)
        self.abort()
        raise DeliveryError(
            f"451 4.4.2 {self.peer}: session broke before the final dot: {said}"
        )

    def _server_stirred(self) -> bool:
        if self._broken or self._writer.is_closing():
            return True
        if self._reader.exception() is not None or self._reader.at_eof():
            return True
        # Read ahead by the stream, or arrived and not yet seen by the loop.
        return _read_ahead(self._reader) or _readable(self._writer)

    async def _check_final_dot_left(self) -> None:
        """Fail locally unless the final dot was handed to the kernel.

        The transport does not raise a failed send (broken pipe, reset by
        peer): it closes itself and drops what it held. Bytes the kernel would
        not take yet are waited for. A dot that did not leave cannot have been
        accepted, so the attempt is retried, and its outcome record supersedes
        the SENDING record.
        """
        if self._writer.is_closing():
            # The close runs its callbacks on the next turn of the loop.
            await asyncio.sleep(0)
            failure = self._reader.exception()
            self._abandon()
            raise DeliveryError(
                f"451 4.4.2 {self.peer}: final dot not sent: "
                f"{_describe(failure) if failure else 'connection closed'}"
            )
        if self._writer.transport.get_write_buffer_size() == 0:
            return

        try:
            await self._flush()
        except _TRANSPORT_ERRORS as exc:
            self._abandon()
            raise DeliveryError(
                f"451 4.4.2 {self.peer}: final dot not sent: {_describe(exc)}"
            ) from exc

    def _mail_command(self, mail_from: str, data: bytes) -> str:
        command = f"MAIL FROM:<{mail_from}>"
        if "SIZE" in self._extensions:
            command += f" SIZE={len(data) + 3}"
        if "8BITMIME" in self._extensions and not data.isascii():
            command += " BODY=8BITMIME"
        return command

    def _note_closing(self, reply: Reply) -> None:
        # 421: the server is closing the channel; the session cannot be reused.
        if reply.code == 421:
            self.abort()

    async def _command(self, command: str) -> Reply:
        self._writer.write(f"{command}\r\n".encode())
        return await self._read_reply()

    async def _read_reply(self) -> Reply:
        return await read_reply(self._reader, self._timeout)

    async def _read_lines(self) -> tuple[int, list[str]]:
        return await read_lines(self._reader, self._timeout)


def _read_ahead(reader: asyncio.StreamReader) -> bool:
    # StreamReader offers no public count of the bytes it read ahead.
    return bool(getattr(reader, "_buffer", b""))


def _readable(writer: asyncio.StreamWriter) -> bool:
    """Whether the socket under the stream has data, an EOF or an error
    waiting (a poll that takes nothing).
    """
    sock = writer.get_extra_info("socket")
    if sock is None:
        return False
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))


def _extensions(lines: list[str]) -> dict[str, str]:
    """EHLO keywords (upper case) with their parameters."""
    found: dict[str, str] = {}
    for line in lines:
        keyword, _, params = line.partition(" ")
        found[keyword.upper()] = params
    return found


def _data(body: bytes) -> bytes:
    """The body as sent after DATA: CRLF line ends, leading dots doubled,
    ending in CRLF; the final dot is added separately.
    """
    data = _LEADING_DOT.sub(b"..", _LINE_ENDS.sub(b"\r\n", body))
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def _bad_address(mail_from: str, rcpt_to: str) -> Reply | None:
    if "@" not in rcpt_to or _UNSAFE.search(rcpt_to):
        return Reply(553, "5.1.3 recipient address has bad syntax")
    if _UNSAFE.search(mail_from):
        return Reply(553, "5.1.7 envelope sender has bad syntax")
    return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, OSError) and exc.errno:
        # asyncio words a refused connect as "Connect call failed (...)".
        return os.strerror(exc.errno).lower()
    return str(exc) or type(exc).__name__
