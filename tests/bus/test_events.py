"""The status event's validation: what PostgreSQL cannot store never gets past it."""

from __future__ import annotations

import json

import pytest

from postline.bus.events import (
    ATTEMPT_MAX,
    MESSAGE_ID_MAX,
    REPLY_MAX,
    ROW_ID_MAX,
    WORD_MAX,
    StatusEvent,
    from_amqp,
    to_amqp,
)
from postline.errors import PayloadError


def body(**fields: object) -> bytes:
    """A JSON payload of a valid event, with ``fields`` changed."""
    payload = {"message_id": "7.42.e", "status": "delivered", "attempt": 1}
    return json.dumps({**payload, **fields}).encode()


def refusal(**fields: object) -> str:
    with pytest.raises(PayloadError) as caught:
        from_amqp(body(**fields))
    return str(caught.value)


def test_a_nul_in_the_reply_becomes_a_replacement_character() -> None:
    event = from_amqp(body(reply="250 ok queued\x00as 1"))

    assert event.reply == "250 ok queued\ufffdas 1"


@pytest.mark.parametrize("control", ["\x01", "\t", "\n", "\x1b", "\x7f", "\x85"])
def test_every_control_character_in_the_reply_is_replaced(control: str) -> None:
    event = from_amqp(body(reply=f"451 busy{control}later"))

    assert event.reply == "451 busy\ufffdlater"


def test_a_lone_surrogate_in_the_reply_is_replaced() -> None:
    event = StatusEvent(message_id="7.42.e", status="delivered", reply="250 \ud800ok")

    assert event.reply == "250 \ufffdok"


def test_a_reply_longer_than_the_limit_is_cut_and_marked() -> None:
    event = from_amqp(body(reply="550 " + "x" * (REPLY_MAX * 2)))

    assert event.reply is not None
    assert len(event.reply) == REPLY_MAX
    assert event.reply.startswith("550 xxx") and event.reply.endswith("\u2026")


def test_a_reply_at_the_limit_is_kept_whole() -> None:
    reply = "550 " + "y" * (REPLY_MAX - 4)

    assert from_amqp(body(reply=reply)).reply == reply


def test_ordinary_text_passes_unchanged() -> None:
    reply = "550 5.1.1 <anne@exämple.test>: Benutzer unbekannt \u2014 ok\u00a0"

    event = from_amqp(body(reply=reply, contact="anne@exämple.test"))

    assert (event.reply, event.contact) == (reply, "anne@exämple.test")


@pytest.mark.parametrize(
    "field", ["message_id", "reason", "decision", "category", "contact"]
)
@pytest.mark.parametrize("control", ["\x00", "\x1f", "\n", "\x9b"])
def test_a_control_character_in_any_other_text_field_is_refused(
    field: str, control: str
) -> None:
    reason = refusal(**{field: f"a{control}b"})

    assert f"status event: {field}:" in reason
    assert "control character" in reason


def test_a_message_id_at_the_limit_is_accepted() -> None:
    message_id = "m" * MESSAGE_ID_MAX

    assert from_amqp(body(message_id=message_id)).message_id == message_id


@pytest.mark.parametrize("message_id", ["", "m" * (MESSAGE_ID_MAX + 1), "m" * 7000])
def test_an_empty_or_overlong_message_id_is_refused(message_id: str) -> None:
    assert "status event: message_id:" in refusal(message_id=message_id)


@pytest.mark.parametrize("field", ["reason", "decision", "category"])
def test_a_word_over_the_limit_is_refused_and_one_at_it_accepted(field: str) -> None:
    at_limit = from_amqp(body(**{field: "r" * WORD_MAX}))

    assert getattr(at_limit, field) == "r" * WORD_MAX
    assert f"status event: {field}:" in refusal(**{field: "r" * (WORD_MAX + 1)})


def test_an_overlong_contact_is_refused() -> None:
    contact = "a" * 400 + "@example.test"

    assert "status event: contact:" in refusal(contact=contact)


@pytest.mark.parametrize("attempt", [0, 1, ATTEMPT_MAX])
def test_attempts_within_the_range_are_accepted(attempt: int) -> None:
    assert from_amqp(body(attempt=attempt)).attempt == attempt


@pytest.mark.parametrize("attempt", [-1, ATTEMPT_MAX + 1, 2**31, 1099511627776])
def test_attempts_outside_the_range_are_refused(attempt: int) -> None:
    assert "status event: attempt:" in refusal(attempt=attempt)


@pytest.mark.parametrize(
    "field", ["sender_id", "campaign_id", "launch_id", "profile_id"]
)
def test_ids_from_zero_to_the_bigint_maximum_are_accepted(field: str) -> None:
    for value in (0, 1, ROW_ID_MAX):
        assert getattr(from_amqp(body(**{field: value})), field) == value


@pytest.mark.parametrize(
    "field", ["sender_id", "campaign_id", "launch_id", "profile_id"]
)
@pytest.mark.parametrize("value", [-1, -5, ROW_ID_MAX + 1, 2**64])
def test_ids_outside_the_bigint_range_are_refused(field: str, value: int) -> None:
    assert f"status event: {field}:" in refusal(**{field: value})


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_a_known_channel_is_accepted(channel: str) -> None:
    event = from_amqp(body(channel=channel))

    assert event.routing_key == f"status.{channel}.delivered"


@pytest.mark.parametrize("channel", ["fax", "Email", "email\x00", ""])
def test_an_unknown_channel_is_refused(channel: str) -> None:
    assert "status event: channel:" in refusal(channel=channel)


@pytest.mark.parametrize("field", ["occurred_at", "next_attempt_at"])
@pytest.mark.parametrize(
    "moment", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"]
)
def test_a_time_that_cannot_be_stored_in_utc_is_refused(
    field: str, moment: str
) -> None:
    assert f"status event: {field}:" in refusal(**{field: moment})


def test_a_valid_event_survives_the_round_trip_unchanged() -> None:
    event = StatusEvent(
        message_id="7.42.e",
        status="deferred",
        reason=None,
        reply="421 4.7.0 try later",
        decision="soft",
        category="throttled",
        attempt=3,
        channel="email",
        contact="anne@example.test",
        sender_id=ROW_ID_MAX,
        profile_id=42,
    )

    assert from_amqp(to_amqp(event).body) == event
