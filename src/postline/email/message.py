"""Building the RFC 5322 message of one recipient, as the bytes the MTA sends.

The message is ``multipart/alternative`` with the text part first and the
HTML part second, both UTF-8. A body that is ASCII with no line over 998
bytes already meets RFC 5322 and goes as it is (7bit). Any other body is
quoted-printable, or base64 when most of it is not ASCII (where
quoted-printable would triple it); both keep every line within 76
characters, whatever the template's lines. Lines end in CRLF.

Headers: Message-ID ``<{message id}@{hostname}>``, Date, From, To, Subject
(RFC 2047 encoded words when it is not short ASCII), MIME-Version and the
RFC 2369 / RFC 8058 unsubscribe pair: List-Unsubscribe with a mailto and an
https address, and List-Unsubscribe-Post for one-click.

The message is written out directly rather than through ``email.message``:
a campaign builds thousands a second, and the transfer encodings here are
the C implementations in ``binascii``.
"""

from __future__ import annotations

import binascii
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime, formataddr

from postline.senders import Sender

CRLF = b"\r\n"

# RFC 5322: a line is at most 998 bytes, not counting its CRLF.
MAX_LINE = 998

# Header lines up to this length go out as they are; RFC 5322 recommends 78.
_SHORT_HEADER = 78

# Above this share of non-ASCII bytes, base64 is smaller than quoted-printable.
_BASE64_SHARE = 0.3

_BASE64_LINE = 57  # input bytes per base64 line: 76 characters out
_HIGH_BYTES = bytes(range(128, 256))


class MessageBuilder:
    """Builds the messages of one campaign: one sender, one node name.

    ``unsubscribe_base`` is the https address that, with the message id
    appended, unsubscribes the recipient in one click.
    """

    def __init__(self, sender: Sender, hostname: str, unsubscribe_base: str) -> None:
        self._hostname = hostname
        self._unsubscribe_base = unsubscribe_base.rstrip("/")
        self._bounce_domain = sender.bounce_domain
        self._from = formataddr(
            (_one_line(sender.from_name or ""), ascii_address(sender.from_email)),
            charset="utf-8",
        )

    def unsubscribe_url(self, message_id: str) -> str:
        """The one-click unsubscribe address of one message."""
        return f"{self._unsubscribe_base}/{message_id}"

    def build(
        self,
        message_id: str,
        to: str,
        subject: str,
        text: str,
        html: str,
        date: datetime | None = None,
    ) -> bytes:
        """The complete message, headers and body, with CRLF line ends."""
        boundary = f"=_{message_id}"
        mailto = f"mailto:unsubscribe+{message_id}@{self._bounce_domain}"
        headers = [
            f"Message-ID: <{message_id}@{self._hostname}>",
            f"Date: {format_datetime(date or datetime.now(UTC))}",
            f"From: {self._from}",
            f"To: {ascii_address(to)}",
            encode_subject(subject),
            "MIME-Version: 1.0",
            f"List-Unsubscribe: <{mailto}>,\r\n <{self.unsubscribe_url(message_id)}>",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            f'Content-Type: multipart/alternative; boundary="{boundary}"',
        ]

        parts = [
            b"\r\n".join(h.encode("ascii") for h in headers),
            b"",
            b"--" + boundary.encode(),
            _part("text/plain", text),
            b"--" + boundary.encode(),
            _part("text/html", html),
            b"--" + boundary.encode() + b"--",
            b"",
        ]
        return CRLF.join(parts)


def encode_subject(subject: str) -> str:
    """The Subject header line, folded and RFC 2047 encoded when needed."""
    value = _one_line(subject)
    line = f"Subject: {value}"
    if value.isascii() and len(line) <= _SHORT_HEADER:
        return line

    encoded = Header(value, "utf-8", header_name="Subject").encode(linesep="\r\n")
    return f"Subject: {encoded}"


def ascii_address(address: str) -> str:
    """The address with an internationalised domain in its ASCII (IDNA) form.

    Line breaks are dropped, so an address cannot start a header of its own.
    """
    local, at, domain = _one_line(address).rpartition("@")
    if domain.isascii():
        return f"{local}{at}{domain}"
    return f"{local}{at}{domain.encode('idna').decode('ascii')}"


def _part(content_type: str, body: str) -> bytes:
    """One body part: its headers, a blank line and the encoded body."""
    data = body.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    encoding, encoded = _transfer_encode(data)
    head = (
        f'Content-Type: {content_type}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n"
    )
    return head.encode("ascii") + CRLF + encoded


def _transfer_encode(data: bytes) -> tuple[str, bytes]:
    """The lightest encoding that keeps lines short and ASCII; CRLF line ends."""
    if data.isascii() and max(map(len, data.split(b"\n"))) <= MAX_LINE:
        return "7bit", data.replace(b"\n", CRLF)

    non_ascii = len(data) - len(data.translate(None, _HIGH_BYTES))
    if data and non_ascii / len(data) > _BASE64_SHARE:
        lines = (
            binascii.b2a_base64(data[i : i + _BASE64_LINE], newline=False)
            for i in range(0, len(data), _BASE64_LINE)
        )
        return "base64", CRLF.join(lines)

    # With istext, "\n" stays a line break and every other control byte,
    # trailing white space and "=" are escaped; soft breaks keep lines at 76.
    encoded = binascii.b2a_qp(data, quotetabs=False, istext=True, header=False)
    return "quoted-printable", encoded.replace(b"\n", CRLF)


def _one_line(value: str) -> str:
    """The value with line breaks and tabs turned into single spaces."""
    return " ".join(value.split())
