"""A development SMTP server that answers by the recipient's local-part tag.

It listens on loopback only and never relays. Tags, as in ``ann+hard@x.test``:

    +hard   550 5.1.1 at RCPT: the mailbox does not exist
    +soft   451 4.7.1 at RCPT on the first attempt for that address, 250 after
    +spam   554 5.7.1 after DATA: rejected as spam
    +slow   2 s before the reply to the final dot, then 250
    other   250

Every accepted message is counted by its message id (from the VERP envelope
sender, else the Message-ID header) in ``received``, and every greeted
session in ``sessions`` (to see connection reuse); with a record file, one
JSON line per accepted message is appended and flushed before the 250 is sent,
so a test in another process can read what arrived.
"""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import json
import logging
import os
import time
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from postline.errors import ConfigError
from postline.ids import message_id_from_verp

log = logging.getLogger(__name__)

SLOW_SECONDS = 2.0

_HARD = "550 5.1.1 <{}>: user unknown"
_SOFT = "451 4.7.1 <{}>: greylisted, try again later"
_SPAM = "554 5.7.1 message rejected as spam"


class SmtpSink:
    """The sink as a server in the running event loop.

    ``port=0`` picks a free port; read it from ``.port`` after ``start()``.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, record: Path | None = None
    ) -> None:
        if not _is_loopback(host):
            raise ConfigError(f"smtp sink: {host} is not a loopback address")
        self.host = host
        self.port = port
        self.received: collections.Counter[str] = collections.Counter()
        self._handler = _Handler(self.received, record)

    @property
    def sessions(self) -> int:
        """How many SMTP sessions said EHLO."""
        return self._handler.sessions
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self._handler, hostname="sink.localhost", loop=loop),
            self.host,
            self.port,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("smtp_sink listening=%s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        await self._server.wait_closed()
        self._server = None
        self._handler.close()


class _Handler:
    """aiosmtpd hooks: the answers by tag, and the record of what was accepted."""

    def __init__(self, received: collections.Counter[str], record: Path | None) -> None:
        self._received = received
        self.sessions = 0
        self._greylisted: set[str] = set()
        self._record_fd = (
            os.open(record, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            if record is not None
            else None
        )

    def close(self) -> None:
        if self._record_fd is not None:
            os.close(self._record_fd)
            self._record_fd = None

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        self.sessions += 1
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        tags = _tags(address)
        if "hard" in tags:
            return _HARD.format(address)

        if "soft" in tags and address.lower() not in self._greylisted:
            self._greylisted.add(address.lower())
            return _SOFT.format(address)

        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        tags = set().union(*(_tags(rcpt) for rcpt in envelope.rcpt_tos))
        if "slow" in tags:
            await asyncio.sleep(SLOW_SECONDS)
        if "spam" in tags:
            return _SPAM

        message_id = _message_id(envelope)
        self._received[message_id] += 1
        self._write_record(envelope, message_id)
        return f"250 2.0.0 OK queued as {message_id}"

    def _write_record(self, envelope: Envelope, message_id: str) -> None:
        if self._record_fd is None:
            return
        line: dict[str, Any] = {
            "message_id": message_id,
            "mail_from": envelope.mail_from,
            "rcpt_to": list(envelope.rcpt_tos),
            "size": len(envelope.original_content or b""),
            "at": time.time(),
        }
        # One write per line on an O_APPEND descriptor: lines never interleave.
        os.write(self._record_fd, (json.dumps(line) + "\n").encode())


def _tags(address: str) -> set[str]:
    local = address.rpartition("@")[0]
    return {tag.lower() for tag in local.split("+")[1:]}


def _message_id(envelope: Envelope) -> str:
    from_verp = message_id_from_verp(envelope.mail_from or "")
    if from_verp is not None:
        return from_verp

    headers = BytesHeaderParser().parsebytes(envelope.original_content or b"")
    header = headers.get("Message-ID", "")
    return str(header).strip().strip("<>") or "unknown"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
