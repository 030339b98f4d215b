"""The wire format of a status event on the ``postline.events`` exchange.

Every service that changes a message's status publishes one event; the
registrar applies them to the ledger. ``event_id`` is the idempotency key:
the same event published twice is applied once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import aio_pika
from pydantic import BaseModel, Field, ValidationError

from postline.bus.names import status_routing_key
from postline.errors import PayloadError

Status = Literal[
    "skipped", "queued", "submitted", "deferred", "delivered", "undelivered", "failed"
]
FINAL_STATUSES: frozenset[str] = frozenset(
    {"skipped", "delivered", "undelivered", "failed"}
)


class StatusEvent(BaseModel):
    """One status change of one message."""

    message_id: str
    status: Status
    reason: str | None = None
    reply: str | None = None
    # The decision axis of the classifier: hard, soft, bounce, local, or None.
    decision: str | None = None
    category: str | None = None
    attempt: int = 0
    next_attempt_at: datetime | None = None
    channel: str = "email"
    contact: str | None = None
    sender_id: int | None = None
    campaign_id: int | None = None
    launch_id: int | None = None
    profile_id: int | None = None
    # True when the bounce arrived after the message was accepted (a DSN).
    asynchronous: bool = False
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

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
