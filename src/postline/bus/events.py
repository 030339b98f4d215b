"""The wire format of a status event on the ``postline.events`` exchange.

Every service that changes a message's status publishes one event; the
registrar applies them to the ledger. ``event_id`` is the idempotency key:
the same event published twice is applied once.

The model is also the edge where untrusted text meets PostgreSQL, so every
field is held to what a column can store: no control characters, bounded
lengths, integers and times within PostgreSQL's ranges. The reply is the one
field Postline does not choose (a remote server wrote it), so it is cleaned
instead of refused; every other violation fails validation, and the registrar
dead-letters the payload with the reason.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

import aio_pika
from pydantic import AfterValidator, BaseModel, Field, ValidationError

from postline.bus.names import status_routing_key
from postline.errors import PayloadError

Status = Literal[
    "skipped", "queued", "submitted", "deferred", "delivered", "undelivered", "failed"
]
Channel = Literal["email", "sms"]
FINAL_STATUSES: frozenset[str] = frozenset(
    {"skipped", "delivered", "undelivered", "failed"}
)

# Longest values accepted, in characters. A longer reply is cut, not refused.
MESSAGE_ID_MAX = 200
WORD_MAX = 100
CONTACT_MAX = 320
REPLY_MAX = 2000

# Highest attempt number: far beyond any retry rule, well inside int4.
ATTEMPT_MAX = 10_000

# Ids name bigint rows: at most 2**63 - 1. Zero is let through although no
# row has it: the events table keeps these ids as JSON, where any integer
# fits, and refusing one would make the producer that builds the event (the
# MTA, mid-attempt) fail instead of the registrar.
ROW_ID_MAX = 2**63 - 1

# C0 and C1 controls (NUL among them) and lone surrogates: PostgreSQL refuses
# NUL and unencodable text, and the rest would break log lines and reports.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_REPLACEMENT = "\ufffd"


def has_control(value: str) -> bool:
    """True when ``value`` holds a character PostgreSQL or a log line cannot take."""
    return _CONTROL.search(value) is not None


def _no_controls(value: str) -> str:
    if has_control(value):
        raise ValueError("contains a control character")
    return value


def _clean_reply(value: str) -> str:
    """Controls become U+FFFD; a reply over ``REPLY_MAX`` ends in an ellipsis."""
    value = _CONTROL.sub(_REPLACEMENT, value)
    if len(value) > REPLY_MAX:
        value = value[: REPLY_MAX - 1] + "\u2026"
    return value


def _storable_time(value: datetime) -> datetime:
    # PostgreSQL stores times in UTC; an offset that carries the year past
    # 1 … 9999 cannot be converted by the driver.
    if value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except OverflowError as exc:
            raise ValueError("out of the range of a timestamp") from exc
    return value


MessageId = Annotated[
    str, Field(min_length=1, max_length=MESSAGE_ID_MAX), AfterValidator(_no_controls)
]
Word = Annotated[str, Field(max_length=WORD_MAX), AfterValidator(_no_controls)]
Contact = Annotated[str, Field(max_length=CONTACT_MAX), AfterValidator(_no_controls)]
ReplyText = Annotated[str, AfterValidator(_clean_reply)]
RowId = Annotated[int, Field(ge=0, le=ROW_ID_MAX)]
Timestamp = Annotated[datetime, AfterValidator(_storable_time)]


class StatusEvent(BaseModel):
    """One status change of one message.

    ``attempt`` counts SMTP or gateway attempts from 1 (0 before the first),
    at most ``ATTEMPT_MAX``.
    """

    message_id: MessageId
    status: Status
    reason: Word | None = None
    reply: ReplyText | None = None
    # The decision axis of the classifier: hard, soft, bounce, local, or None.
    decision: Word | None = None
    category: Word | None = None
    attempt: Annotated[int, Field(ge=0, le=ATTEMPT_MAX)] = 0
    next_attempt_at: Timestamp | None = None
    channel: Channel = "email"
    contact: Contact | None = None
    sender_id: RowId | None = None
    campaign_id: RowId | None = None
    launch_id: RowId | None = None
    profile_id: RowId | None = None
    # True when the bounce arrived after the message was accepted (a DSN).
    asynchronous: bool = False
    occurred_at: Timestamp = Field(default_factory=lambda: datetime.now(UTC))

    @property
    def event_id(self) -> str:
        """Idempotency key: the same status at the same attempt is one event."""
        return f"{self.message_id}:{self.attempt}:{self.status}"

    @property
    def routing_key(self) -> str:
        return status_routing_key(self.channel, self.status)


def to_amqp(event: StatusEvent) -> aio_pika.Message:
    return aio_pika.Message(
        body=event.model_dump_json().encode(),
        message_id=event.event_id,
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )


def from_amqp(body: bytes) -> StatusEvent:
    """Decode an event, or raise ``PayloadError`` saying which field is wrong."""
    try:
        return StatusEvent.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise PayloadError(f"status event: {where}: {first['msg']}") from exc
