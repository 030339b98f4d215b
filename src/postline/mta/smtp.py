"""The mail transaction on an open SMTP connection, written for the spool's needs.

``SmtpSession`` is an ``SmtpConnection`` (``postline.mta.smtp_connection``:
connect, greet, STARTTLS) that sends messages. It drives the transaction
itself so that the moment before the final dot is visible: ``send`` writes the
body, calls ``before_final()`` (the spool's SENDING record) and writes the
final dot with no await in between. MAIL, RCPT and DATA go out in one write
when the server offers PIPELINING (RFC 2920).

Transport failures become ``DeliveryError`` whose message reads as a reply
line (``451 4.4.2 host:25: connection failed during DATA: timed out``). Only a
connection lost after the final dot was handed to the kernel becomes
``OutcomeUnknownError``: a connection found closed before the dot, a dot whose
write failed, or a reset answering the dot (the server closed with it unread)
cannot have delivered anything and is a plain local failure. Remote replies
are returned (``postline.mta.reply``). It touches only its own socket; the
SENDING record is the caller's ``before_final``.
"""

from __future__ import annotations

import asyncio
import re
import select
from collections.abc import Callable

from postline.errors import DeliveryError, OutcomeUnknownError
from postline.mta.reply import Reply
from postline.mta.smtp_connection import (
    TRANSPORT_ERRORS,
    SmtpConnection,
    describe_failure,
)

__all__ = ["SmtpSession"]

_LINE_ENDS = re.compile(rb"\r\n|\n|\r(?!\n)")
_LEADING_DOT = re.compile(rb"(?m)^\.")
_UNSAFE = re.compile(r"[\x00-\x20\x7f<>]")


class SmtpSession(SmtpConnection):
    """An open, greeted connection to one mail server that sends messages.

    ``sent`` counts transactions answered after the final dot.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: str,
        command_timeout: float,
    ) -> None:
        super().__init__(reader, writer, peer, command_timeout)
        self.sent = 0
        self._needs_reset = False

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
        except TRANSPORT_ERRORS as exc:
            self.abort()
            raise DeliveryError(
                f"451 4.4.2 {self.peer}: connection failed during {stage}: "
                f"{describe_failure(exc)}"
            ) from exc

        return await self._finish(before_final)

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
        except TRANSPORT_ERRORS as exc:
            self.abort()
            raise self._no_reply(exc) from exc

        self.sent += 1
        if not reply.ok:
            self._needs_reset = True
        self._note_closing(reply)
        return reply

    def _no_reply(self, failure: BaseException) -> DeliveryError:
        """The error for a final dot left without a reply.

        A reset with nothing of a reply read means the server closed with our
        data unread (Linux answers unread data at close with a reset), so it
        never read the final dot: a local failure, retried. An end of stream
        or a timeout may follow an accepted message: the outcome is unknown.
        """
        described = describe_failure(failure)
        if isinstance(failure, ConnectionResetError) and not _read_ahead(self._reader):
            return DeliveryError(
                f"451 4.4.2 {self.peer}: server closed with the final dot "
                f"unread: {described}"
            )
        return OutcomeUnknownError(
            f"451 4.4.2 {self.peer}: no reply to the final dot: {described}"
        )

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
        except TRANSPORT_ERRORS as exc:
            said = describe_failure(exc)
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
                f"{describe_failure(failure) if failure else 'connection closed'}"
            )
        if self._writer.transport.get_write_buffer_size() == 0:
            return

        try:
            await self._flush()
        except TRANSPORT_ERRORS as exc:
            self._abandon()
            raise DeliveryError(
                f"451 4.4.2 {self.peer}: final dot not sent: {describe_failure(exc)}"
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
