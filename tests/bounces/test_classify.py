"""The reply classifier: each rule with one reply it must catch and one near miss."""

from __future__ import annotations

import pytest

from postline.bounces.classify import classify, match_rule, parse_reply
from postline.bounces.rules import RULES

# rule name -> (a reply the rule must match, a similar reply it must not match)
FIXTURES: dict[str, tuple[str, str]] = {
    "connection": (
        "451 4.4.1 connect to 127.0.0.1:2525: connection refused",
        "550 5.7.1 Connections not accepted from servers without a valid sender",
    ),
    "tls": (
        "451 4.7.5 TLS handshake with mx.example.com:25 failed: TLS error: EOF",
        "550 5.7.1 Tulsa office does not accept this message",
    ),
    "timeout": (
        "421 4.4.2 mx.example.net Error: timeout exceeded",
        "421 4.4.2 mx.example.net Error: too many open sessions",
    ),
    "dns-failure": (
        "451 4.4.3 MX lookup for example.com failed: timeout",
        "554 5.7.1 Reverse DNS lookup for host 203.0.113.22 failed permanently.",
    ),
    "quota": (
        "552 5.2.2 <ann@example.com>: Recipient address rejected: Mailbox full",
        "552 5.3.0 <ann@example.com>: mailbox service unavailable",
    ),
    "size": (
        "552 5.3.4 Message too large",
        "552 5.3.0 Message refused",
    ),
    "rate": (
        "450 4.2.1 The user you are trying to contact is receiving mail too quickly",
        "450 4.2.0 The user you are trying to contact is away",
    ),
    "virus": (
        "550 Virus Detected; Content Rejected",
        "550 Vivid colours rejected",
    ),
    "spam": (
        "550 5.7.1 Message content rejected, UBE, id=00000-22-225",
        "550 5.7.1 Message format rejected, id=00000-22-225",
    ),
    "authentication": (
        "550 5.7.26 Unauthenticated email from example.com is refused due to DMARC",
        "550 5.7.1 Email from example.com is not accepted",
    ),
    "reverse-dns": (
        "554 5.7.1 Reverse DNS lookup for host 203.0.113.22 failed permanently.",
        "554 5.7.1 Forward lookup for host 203.0.113.22 failed permanently.",
    ),
    "relaying": (
        "554 5.7.1 <ann@example.com>: Relay access denied",
        "554 5.7.1 <ann@example.com>: Relay access logged",
    ),
    "sender": (
        "501 5.1.8 Sender address rejected",
        "501 5.0.8 Sender address noted",
    ),
    "disabled": (
        "550 5.2.1 The email account that you tried to reach is disabled.",
        "550 5.2.0 The email account that you tried to reach is busy.",
    ),
    "null-mx": (
        "556 5.1.10 domain example.com accepts no mail (null MX)",
        "556 5.1.0 domain example.com accepts mail later",
    ),
    "no-domain": (
        "550 5.1.2 <ann@example.org>... Host unknown (Name server: host not found)",
        "550 5.1.0 <ann@example.org>... Host busy (Name server: host found)",
    ),
    "moved": (
        "551 not our customer",
        "551 not our problem",
    ),
    "no-mailbox": (
        "550 5.1.1 <ann@example.com>: Recipient address rejected: User unknown",
        "550 5.0.0 <ann@example.com>: Recipient address accepted for review",
    ),
    "policy": (
        "554 Mail from ann@example.net rejected for policy reasons.",
        "554 Mail from ann@example.net rejected.",
    ),
    "content": (
        "550 5.6.9 improper use of 8-bit data in message header",
        "550 5.0.9 improper use of this server",
    ),
    "protocol": (
        "503 Improper sequence of commands",
        "503 Improper command",
    ),
}


def _rule_of(line: str) -> str | None:
    _, enhanced, text = parse_reply(line)
    rule = match_rule(enhanced, text)
    return rule.name if rule else None


def test_every_rule_has_a_fixture_and_every_fixture_a_rule() -> None:
    assert set(FIXTURES) == {rule.name for rule in RULES}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_rule_matches_its_positive_reply(name: str) -> None:
    assert _rule_of(FIXTURES[name][0]) == name


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_rule_does_not_match_its_near_miss(name: str) -> None:
    assert _rule_of(FIXTURES[name][1]) != name


def test_a_2xx_reply_is_no_failure() -> None:
    verdict = classify(250, "2.0.0", "OK queued")

    assert verdict.decision is None
    assert verdict.category == "success"


def test_user_unknown_at_5xx_is_hard() -> None:
    verdict = classify(550, "5.1.1", "<ann@example.com>: user unknown")

    assert (verdict.decision, verdict.reason, verdict.category) == (
        "hard",
        "userunknown",
        "bad-mailbox",
    )


def test_user_unknown_at_4xx_stays_soft() -> None:
    assert classify(450, "4.1.1", "<ann@example.com>: user unknown").decision == "soft"


def test_mailbox_full_at_5xx_is_a_bounce_not_hard() -> None:
    verdict = classify(552, "5.2.2", "Mailbox full")

    assert (verdict.decision, verdict.category) == ("bounce", "quota-issues")


def test_a_spam_block_at_5xx_is_a_bounce() -> None:
    verdict = classify(554, "5.7.1", "message rejected as spam")

    assert (verdict.decision, verdict.category) == ("bounce", "spam-related")


def test_an_unmatched_5xx_is_a_bounce_of_category_other() -> None:
    verdict = classify(554, None, "Transaction failed for reasons")

    assert (verdict.decision, verdict.category) == ("bounce", "other")


def test_a_local_failure_is_never_hard_even_with_a_hard_code() -> None:
    verdict = classify(550, "5.1.1", "user unknown", local=True)

    assert verdict.decision == "local"


def test_a_local_connection_failure_is_a_bad_connection() -> None:
    line = "451 4.4.1 connect to 127.0.0.1:9: connection refused"
    code, enhanced, text = parse_reply(line)

    verdict = classify(code, enhanced, text, local=True)

    assert (verdict.decision, verdict.category) == ("local", "bad-connection")


def test_parse_reply_splits_code_enhanced_code_and_text() -> None:
    assert parse_reply("550-5.1.1 The account does not exist") == (
        550,
        "5.1.1",
        "The account does not exist",
    )
    assert parse_reply("421 Service not available") == (
        421,
        None,
        "Service not available",
    )
