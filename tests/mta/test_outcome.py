"""The retry rule and lifetime applied to replies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mta.helpers import email, sender
from postline.mta.envelope import Envelope
from postline.mta.outcome import expired, judge, to_event
from postline.mta.reply import Reply

NOW = datetime(2026, 1, 1, tzinfo=UTC)
RULE = sender(retry_attempts=2, retry_interval=600, lifetime=86400)
ENVELOPE = Envelope.of(email(1, queued_at=NOW))


def _judge(line: str, attempt: int = 1, *, local: bool = False, at: float = 60.0):  # type: ignore[no-untyped-def]
    reply = Reply.parse(line, local=local)
    return judge(
        reply, attempt=attempt, sender=RULE, envelope=ENVELOPE, now=NOW.timestamp() + at
    )


def test_a_2xx_reply_is_delivered() -> None:
    assert _judge("250 2.0.0 OK").status == "delivered"


def test_a_hard_reply_is_undelivered_hard_bounce() -> None:
    outcome = _judge("550 5.1.1 user unknown")

    assert (outcome.status, outcome.reason, outcome.decision) == (
        "undelivered",
        "hard_bounce",
        "hard",
    )


def test_any_other_5xx_is_undelivered_bounce() -> None:
    outcome = _judge("554 5.7.1 message rejected as spam")

    assert (outcome.status, outcome.reason) == ("undelivered", "bounce")


def test_a_4xx_reply_is_deferred_by_the_retry_interval() -> None:
    outcome = _judge("451 4.7.1 try later")

    assert outcome.status == "deferred"
    assert outcome.next_attempt_at == NOW.timestamp() + 60 + 600


def test_a_local_failure_is_deferred_never_hard() -> None:
    outcome = _judge("550 5.1.1 connect to 127.0.0.1:9: refused", local=True)

    assert (outcome.status, outcome.decision) == ("deferred", "local")


def test_the_last_retry_failing_softly_exhausts_the_attempts() -> None:
    assert _judge("451 4.7.1 try later", attempt=2).status == "deferred"
    outcome = _judge("451 4.7.1 try later", attempt=3)

    assert (outcome.status, outcome.reason) == ("undelivered", "attempts_exhausted")


def test_a_retry_that_would_fall_after_the_lifetime_expires_the_message() -> None:
    outcome = _judge("451 4.7.1 try later", at=86400 - 300)

    assert (outcome.status, outcome.reason, outcome.category) == (
        "undelivered",
        "lifetime_expired",
        "message-expired",
    )


def test_a_message_past_its_lifetime_is_expired_before_any_attempt() -> None:
    late = NOW + timedelta(seconds=86400)

    assert expired(ENVELOPE, RULE, (late - timedelta(seconds=1)).timestamp()) is None
    outcome = expired(ENVELOPE, RULE, late.timestamp())
    assert outcome is not None
    assert outcome.reason == "lifetime_expired"


def test_a_deferral_event_carries_the_envelope_and_the_next_attempt() -> None:
    outcome = _judge("451 4.7.1 try later")

    event = to_event(ENVELOPE, outcome, 1)

    assert event.event_id == f"{ENVELOPE.message_id}:1:deferred"
    assert event.next_attempt_at == datetime.fromtimestamp(
        outcome.next_attempt_at or 0, UTC
    )
    assert (event.contact, event.sender_id, event.campaign_id) == (
        ENVELOPE.rcpt_to,
        1,
        3,
    )
    assert event.routing_key == "status.email.deferred"
