"""The wire format of one built email on the ``akmta_*`` queues.

The AMQP body is the raw RFC 5322 message, unchanged; the envelope and the
identifiers travel as AMQP headers so that the MTA never parses the body.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from postline.bus.events import (
    CONTACT_MAX,
    MESSAGE_ID_MAX,
    ROW_ID_MAX,
    has_control,
)
from postline.errors import PayloadError

_REQUIRED = (
    "mail_from",
    "rcpt_to",
    "sender_id",
    "campaign_id",
    "launch_id",
    "profile_id",
)


@dataclass(frozen=True, slots=True)
class OutboundEmail:
    """One message for one recipient, ready for SMTP."""

    message_id: str
    mail_from: str
    rcpt_to: str
    sender_id: int
    campaign_id: int
    launch_id: int
    profile_id: int
    queued_at: datetime
    body: bytes

    @property
    def domain(self) -> str:
        """The recipient's domain, lower-cased: the key for routing."""
        return self.rcpt_to.rpartition("@")[2].lower()


def to_amqp(email: OutboundEmail) -> aio_pika.Message:
    """Encode for publishing: persistent, with the message id as AMQP id."""
    return aio_pika.Message(
        body=email.body,
        message_id=email.message_id,
        content_type="message/rfc822",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        timestamp=email.queued_at,
        headers={
            "mail_from": email.mail_from,
            "rcpt_to": email.rcpt_to,
            "sender_id": email.sender_id,
            "campaign_id": email.campaign_id,
            "launch_id": email.launch_id,
            "profile_id": email.profile_id,
            "queued_at": email.queued_at.isoformat(),
        },
    )


def from_amqp(message: AbstractIncomingMessage) -> OutboundEmail:
    """Decode a delivery, or raise ``PayloadError`` naming what is missing."""
    headers: dict[str, Any] = dict(message.headers or {})
    missing = [name for name in _REQUIRED if name not in headers]
    if not message.message_id:
        missing.insert(0, "message_id")
    if missing:
        raise PayloadError(f"email payload lacks {', '.join(missing)}")

    try:
        queued_at = datetime.fromisoformat(str(headers.get("queued_at")))
    except ValueError:
        queued_at = datetime.now(UTC)
    if queued_at.tzinfo is None:
        # Lifetimes are compared with aware times; a naive time is taken as UTC.
        queued_at = queued_at.replace(tzinfo=UTC)

    try:
        email = OutboundEmail(
            message_id=str(message.message_id),
            mail_from=_text(headers["mail_from"]),
            rcpt_to=_text(headers["rcpt_to"]),
            sender_id=int(headers["sender_id"]),
            campaign_id=int(headers["campaign_id"]),
            launch_id=int(headers["launch_id"]),
            profile_id=int(headers["profile_id"]),
            queued_at=queued_at,
            body=message.body,
        )
    except (TypeError, ValueError) as exc:
        raise PayloadError(f"email payload has a malformed header: {exc}") from exc

    problem = _problem(email)
    if problem is not None:
        raise PayloadError(f"email payload: {problem}")
    return email


def _problem(email: OutboundEmail) -> str | None:
    """What makes a decoded email unusable, checked before the MTA takes it.

    The bounds are those of a status event: a message the MTA accepted must
    be one whose every event the registrar can store.
    """
    if len(email.message_id) > MESSAGE_ID_MAX:
        return f"message_id longer than {MESSAGE_ID_MAX} characters"
    if len(email.rcpt_to) > CONTACT_MAX or "@" not in email.rcpt_to:
        return f"rcpt_to is not an address: {email.rcpt_to[:80]!r}"
    for name in ("message_id", "mail_from", "rcpt_to"):
        if has_control(getattr(email, name)):
            return f"{name} holds a control character"
    for name in ("sender_id", "campaign_id", "launch_id", "profile_id"):
        if not 0 <= getattr(email, name) <= ROW_ID_MAX:
            return f"{name} out of range"
    return None


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
