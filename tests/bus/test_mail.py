"""The email payload on the akmta queues: what the MTA refuses to take."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest
from aio_pika.abc import AbstractIncomingMessage

from postline.bus.mail import OutboundEmail, from_amqp, to_amqp
from postline.errors import PayloadError


class _Delivery:
    """Just the attributes ``from_amqp`` reads from an incoming message."""

    def __init__(self, message_id: str, headers: dict[str, Any], body: bytes) -> None:
        self.message_id = message_id
        self.headers = headers
        self.body = body


def _email(**changes: Any) -> OutboundEmail:
    values: dict[str, Any] = {
        "message_id": "1.2.e",
        "mail_from": "b-1.2.e@bounces.example.com",
        "rcpt_to": "ana@example.com",
        "sender_id": 1,
        "campaign_id": 1,
        "launch_id": 1,
        "profile_id": 2,
        "queued_at": datetime(2026, 12, 4, tzinfo=UTC),
        "body": b"Subject: hi\r\n\r\nhello\r\n",
    }
    return OutboundEmail(**(values | changes))


def _round_trip(email: OutboundEmail) -> OutboundEmail:
    message = to_amqp(email)
    delivery = _Delivery(email.message_id, dict(message.headers), message.body)
    return from_amqp(cast(AbstractIncomingMessage, delivery))


def test_an_email_survives_the_queue_unchanged() -> None:
    email = _email()

    assert _round_trip(email) == email


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"rcpt_to": "no-at-sign"}, "rcpt_to is not an address"),
        ({"rcpt_to": "a\x00b@example.com"}, "rcpt_to holds a control character"),
        ({"message_id": "x" * 201}, "message_id longer than 200"),
        ({"profile_id": -1}, "profile_id out of range"),
        ({"sender_id": 2**63}, "sender_id out of range"),
    ],
)
def test_a_payload_the_registrar_could_not_store_is_refused(
    changes: dict[str, Any], problem: str
) -> None:
    with pytest.raises(PayloadError, match=problem):
        _round_trip(_email(**changes))


def test_a_naive_queue_time_is_taken_as_utc() -> None:
    email = _round_trip(_email(queued_at=datetime(2026, 12, 4, 10, 0)))

    assert email.queued_at == datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
