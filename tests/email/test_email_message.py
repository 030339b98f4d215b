"""Building the MIME message: headers, parts, encodings and line lengths."""

from __future__ import annotations

import dataclasses
import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from conftest import SHARED_FIXTURES
from postline.email import MessageBuilder
from postline.senders import Sender

FIXTURES = SHARED_FIXTURES / "templates"
LONG_LINES = [
    "mailgun-transactional-email-templates/billing.html",
    "sendgrid-email-templates/different_languages.html",
    "sendgrid-email-templates/special_sale.html",
]
SENDER = Sender(
    id=7,
    name="main",
    kind="mta",
    from_email="news@shop.example.test",
    from_name="Shop News",
    bounce_domain="bounces.example.test",
    strategy_messages=60,
    strategy_interval=60,
    connections=4,
    retry_attempts=5,
    retry_interval=600,
    lifetime=86400,
)


def _builder(sender: Sender = SENDER) -> MessageBuilder:
    return MessageBuilder(sender, "node.example.test", "https://u.example.test/u/")


def _parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _body(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert isinstance(part, EmailMessage)
    return str(part.get_content()).replace("\r\n", "\n")


def test_headers_name_the_message_its_parties_and_its_unsubscribe_addresses() -> None:
    date = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)

    raw = _builder().build(
        "12.345.e", "reader@example.test", "December picks", "Hi", "<p>Hi</p>", date
    )

    message = _parse(raw)
    assert message["Message-ID"] == "<12.345.e@node.example.test>"
    assert message["Date"] == "Tue, 01 Dec 2026 09:30:00 +0000"
    assert message["From"] == "Shop News <news@shop.example.test>"
    assert message["To"] == "reader@example.test"
    assert message["Subject"] == "December picks"
    assert message["MIME-Version"] == "1.0"
    assert message["List-Unsubscribe"] == (
        "<mailto:unsubscribe+12.345.e@bounces.example.test>, "
        "<https://u.example.test/u/12.345.e>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_the_text_part_comes_before_the_html_part() -> None:
    raw = _builder().build("1.2.e", "r@example.test", "S", "plain", "<p>rich</p>")

    message = _parse(raw)
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    assert _body(message, "plain") == "plain"
    assert _body(message, "html") == "<p>rich</p>"


@pytest.mark.parametrize("name", LONG_LINES)
def test_no_line_exceeds_998_bytes_even_when_the_template_has_longer_ones(
    name: str,
) -> None:
    html = (FIXTURES / name).read_text(encoding="utf-8")
    assert max(len(line.encode()) for line in html.splitlines()) > 998

    raw = _builder().build("1.2.e", "r@example.test", "S", "t", html)

    assert raw.endswith(b"\r\n")
    lines = raw.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    assert not any(b"\r" in line or b"\n" in line for line in lines)
    assert _body(_parse(raw), "html") == html


@pytest.mark.parametrize(
    "name", sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*.html"))
)
def test_every_fixture_template_survives_a_round_trip_unchanged(name: str) -> None:
    html = (FIXTURES / name).read_text(encoding="utf-8")

    raw = _builder().build("1.2.e", "r@example.test", "S", "t", html)

    assert raw.isascii()
    assert _body(_parse(raw), "html") == html


def test_non_ascii_subject_sender_name_and_bodies_survive_a_round_trip() -> None:
    sender = dataclasses.replace(SENDER, from_name="Café Ünïcode ✓")
    subject = "Grüße, Ада — 你好! " + "a long subject that must be folded " * 3
    text = "Привет, мир ✓\nZweite Zeile mit Umlauten: äöü\n"
    html = "<p>Привет, <b>мир</b> ✓</p>\n<p>" + "ещё " * 400 + "</p>\n"

    raw = _builder(sender).build("1.2.e", "r@example.test", subject, text, html)

    assert raw.isascii()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    message = _parse(raw)
    assert message["Subject"] == subject.strip()
    assert message["From"].addresses[0].display_name == "Café Ünïcode ✓"
    assert _body(message, "plain") == text
    assert _body(message, "html") == html


def test_a_line_break_in_the_subject_cannot_add_a_header() -> None:
    subject = "Hello\r\nBcc: victim@example.test"

    raw = _builder().build("1.2.e", "r@example.test", subject, "t", "<p>h</p>")

    message = _parse(raw)
    assert message["Bcc"] is None
    assert message["Subject"] == "Hello Bcc: victim@example.test"


def test_mostly_non_ascii_text_is_sent_as_base64_and_ascii_as_it_is() -> None:
    raw = _builder().build(
        "1.2.e", "r@example.test", "S", "Съешь же ещё этих мягких булок", "<p>ok</p>"
    )

    message = _parse(raw)
    plain, html = message.iter_parts()
    assert plain["Content-Transfer-Encoding"] == "base64"
    assert html["Content-Transfer-Encoding"] == "7bit"


def test_trailing_spaces_and_a_leading_dot_are_kept() -> None:
    text = "line with trailing spaces   \n.starts with a dot\nlast"

    raw = _builder().build("1.2.e", "r@example.test", "S", text, "<p>é</p>")

    assert _body(_parse(raw), "plain") == text


def test_an_internationalised_recipient_domain_is_written_in_ascii() -> None:
    raw = _builder().build("1.2.e", "reader@bücher.example", "S", "t", "<p>h</p>")

    assert _parse(raw)["To"] == "reader@xn--bcher-kva.example"
