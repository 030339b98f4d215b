"""What an attempt's reply means for the message: the retry rule and lifetime.

2xx is delivered. A hard verdict is ``undelivered/hard_bounce``, any other
5xx ``undelivered/bounce``. A soft or local failure is deferred by the
sender's retry rule (``retry_attempts`` retries after the first attempt,
``retry_interval`` seconds apart) unless the retries are used up
(``attempts_exhausted``) or the next attempt would fall after the message's
lifetime, counted from ``queued_at`` (``lifetime_expired``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from postline.bus.events import Status, StatusEvent
from postline.mta.envelope import Envelope
from postline.mta.reply import Reply
from postline.senders import Sender

# The reply recorded for a delivery whose final dot got no answer; reports
# count such deliveries by this prefix.
UNKNOWN_PREFIX = "250 outcome unknown"
UNKNOWN_AFTER_STOP = f"{UNKNOWN_PREFIX}: process stopped after the final dot"
UNKNOWN_AFTER_DOT = f"{UNKNOWN_PREFIX}: no reply after the final dot"


@dataclass(frozen=True, slots=True)
class Outcome:
    """A status for the ledger and a label for the log line."""

    status: Status
    label: str
    reply: str
    reason: str | None = None
    decision: str | None = None
    category: str | None = None
    next_attempt_at: float | None = None

    @property
    def final(self) -> bool:
        return self.status != "deferred"


def judge(
    reply: Reply, *, attempt: int, sender: Sender, envelope: Envelope, now: float
) -> Outcome:
    """The outcome of attempt number ``attempt`` (from 1) given its reply."""
    verdict = reply.verdict()
    decision, category = verdict.decision, verdict.category
    if decision is None:
        return Outcome("delivered", "delivered", reply.line, category=category)
    if decision == "hard":
        return Outcome(
            "undelivered", "hard_bounce", reply.line, "hard_bounce", decision, category
        )
    if decision == "bounce":
        return Outcome(
            "undelivered", "bounce", reply.line, "bounce", decision, category
        )

    if attempt >= 1 + sender.retry_attempts:
        return Outcome(
            "undelivered",
            "attempts_exhausted",
            reply.line,
            "attempts_exhausted",
            decision,
            category,
        )

    next_at = now + sender.retry_interval
    if next_at > expires_at(envelope, sender):
        return Outcome(
            "undelivered",
            "lifetime_expired",
            reply.line,
            "lifetime_expired",
            decision,
            "message-expired",
        )
    return Outcome(
        "deferred", "deferred", reply.line, None, decision, category, next_at
    )


def expired(envelope: Envelope, sender: Sender, now: float) -> Outcome | None:
    """``lifetime_expired`` if the message is past its lifetime, else None."""
    if now < expires_at(envelope, sender):
        return None
    reply = (
        f"451 4.4.7 message expired: not delivered within its lifetime "
        f"of {sender.lifetime} s"
    )
    return Outcome(
        "undelivered",
        "lifetime_expired",
        reply,
        "lifetime_expired",
        None,
        "message-expired",
    )


def unknown(reply: str) -> Outcome:
    """Delivered, flagged: the final dot went out and no answer was recorded.

    Counting it delivered risks a lost message; sending it again risks a
    duplicate, which the platform ranks worse (see docs/mta.md).
    """
    return Outcome("delivered", "unknown", reply, None, "unknown", None)


def expires_at(envelope: Envelope, sender: Sender) -> float:
    """Epoch seconds after which the message is no longer attempted."""
    return envelope.queued_at.timestamp() + sender.lifetime


def to_event(envelope: Envelope, outcome: Outcome, attempt: int) -> StatusEvent:
    next_at = (
        datetime.fromtimestamp(outcome.next_attempt_at, UTC)
        if outcome.next_attempt_at is not None
        else None
    )
    return StatusEvent(
        message_id=envelope.message_id,
        status=outcome.status,
        reason=outcome.reason,
        reply=outcome.reply,
        decision=outcome.decision,
        category=outcome.category,
        attempt=attempt,
        next_attempt_at=next_at,
        channel="email",
        contact=envelope.rcpt_to,
        sender_id=envelope.sender_id,
        campaign_id=envelope.campaign_id,
        launch_id=envelope.launch_id,
        profile_id=envelope.profile_id,
    )
