"""An SMTP reply: read from a stream, made printable, classified.

A reply is one line ``NNN text`` or several, ``NNN-text`` up to the last
(RFC 5321 §4.2). Its text keeps what the server wrote, except control
characters (tab aside), which are written as ``\\xNN``: no NUL or escape
sequence reaches a log line or PostgreSQL. The MTA words its own failures as
replies too, marked ``local``.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from postline.bounces.classify import Verdict, classify, parse_reply

# C0 controls but tab, DEL and C1 controls.
_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


@dataclass(frozen=True, slots=True)
class Reply:
    """An SMTP reply, or one the MTA made up for its own failure (``local``)."""

    code: int
    text: str
    local: bool = False

    @property
    def line(self) -> str:
        return f"{self.code} {self.text}"

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300

    @classmethod
    def parse(cls, line: str, *, local: bool = False) -> Reply:
        code, _, text = line.partition(" ")
        return cls(int(code) if code.isdigit() else 451, text, local)

    def verdict(self) -> Verdict:
        code, enhanced, text = parse_reply(self.line)
        return classify(code, enhanced, text, local=self.local)


async def read_reply(reader: asyncio.StreamReader, seconds: float) -> Reply:
    """The next reply, its lines' texts joined; ``seconds`` to wait for each line."""
    code, lines = await read_lines(reader, seconds)
    return Reply(code, " ".join(line for line in lines if line))


async def read_lines(
    reader: asyncio.StreamReader, seconds: float
) -> tuple[int, list[str]]:
    """The code and text lines of one (possibly multi-line) reply.

    Raises EOFError when the server closed the connection, ValueError on a
    line that is no reply, TimeoutError when a line takes over ``seconds``.
    """
    lines: list[str] = []
    while True:
        raw = await asyncio.wait_for(reader.readline(), seconds)
        if not raw:
            raise EOFError("connection closed by the server")
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if len(line) < 3 or not line[:3].isdigit():
            raise ValueError(f"malformed reply {line[:80]!r}")
        lines.append(printable(line[4:].strip()))
        if len(line) == 3 or line[3] != "-":
            return int(line[:3]), lines


def printable(text: str) -> str:
    """The text with control characters (tab aside) written as ``\\xNN``."""
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
