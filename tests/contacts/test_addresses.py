"""Address and phone checks: what passes, and the reason for what does not."""

from __future__ import annotations

import pytest

from postline.contacts import email_key
from postline.contacts.addresses import (
    email_problem,
    normalize_email,
    normalize_phone,
    phone_problem,
)

LONG_DOMAIN = ".".join(["b" * 63] * 3) + ".com"
# 247 characters in ASCII, but 347 bytes as written: full-width letters.
WIDE_ADDRESS = "a" * 64 + "@" + "b" * 63 + "." + "b" * 63 + "." + "\uff43" * 50 + ".com"


@pytest.mark.parametrize(
    "address",
    [
        "ana@example.com",
        "o'brien@example.org",
        "first.last+soft@mail.example.com",
        "a" * 64 + "@example.net",
        "user@sub-domain.example.net",
        "kasia@bücher.example",
        "x@" + "c" * 63 + ".example",
        "idn@xn--bcher-kva.example.com",
        WIDE_ADDRESS,
    ],
)
def test_well_formed_addresses_pass(address: str) -> None:
    assert email_problem(address) is None


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("ana.example.com", "has no @"),
        ("ana@home@example.com", "more than one @"),
        ("ana maria@example.com", "whitespace"),
        ("ana@example.com\t", "whitespace"),
        ("@example.com", "nothing before the @"),
        ("ana@", "no domain"),
        ("ana@localhost", "without a dot"),
        (".ana@example.com", "misplaced dot"),
        ("ana..maria@example.com", "misplaced dot"),
        ("ana.@example.com", "misplaced dot"),
        ("a" * 65 + "@example.com", "longer than 64"),
        ("a" * 64 + "@" + LONG_DOMAIN, "longer than 254"),
        ("ana@-example.com", "inner hyphens"),
        ("ana@example..com", "empty label"),
        ("ana@" + "d" * 64 + ".com", "longer than 63"),
        ("ana@example.123", "numeric top-level"),
        ("ana@[192.0.2.1]", "address literal"),
        ("ana(home)@example.com", "not allowed before the @: ()"),
        ("zoë@example.com", "not allowed before the @: ë"),
        ("ana@straße.example", "invalid internationalised domain straße.example"),
        ("ana@xn--zz.example", "label 'xn--zz' is not valid punycode"),
        ("ana@" + "ü" * 64 + ".example", "label empty or too long"),
        ("ana@bü\u0007cher.example", "not letters, digits and inner hyphens"),
    ],
)
def test_malformed_addresses_name_their_fault(address: str, reason: str) -> None:
    problem = email_problem(address)

    assert problem is not None
    assert reason in problem


def test_normalizing_lowers_the_domain_and_keeps_the_local_part() -> None:
    assert normalize_email("Ana.Maria@Mail.Example.COM") == "Ana.Maria@mail.example.com"


def test_normalizing_writes_an_internationalised_domain_in_ascii() -> None:
    assert normalize_email("Idn@BÜCHER.example.com") == "Idn@xn--bcher-kva.example.com"


def test_normalizing_only_lowers_a_domain_that_is_no_valid_name() -> None:
    assert normalize_email("ana@STRASSE.straße.Example") == "ana@strasse.straße.example"


def test_both_spellings_of_an_internationalised_mailbox_have_one_key() -> None:
    unicode, ascii_ = "Idn@Bücher.example.com", "idn@xn--bcher-kva.EXAMPLE.com"

    assert email_key(unicode) == email_key(ascii_) == "idn@xn--bcher-kva.example.com"


@pytest.mark.parametrize(
    ("phone", "compact"),
    [
        ("+44 7700 900123", "+447700900123"),
        ("+1 (212) 555-0101", "+12125550101"),
        ("030.1234.567", "0301234567"),
        ("1234567", "1234567"),
    ],
)
def test_plausible_phones_pass_and_lose_their_separators(
    phone: str, compact: str
) -> None:
    assert phone_problem(phone) is None
    assert normalize_phone(phone) == compact


@pytest.mark.parametrize(
    ("phone", "reason"),
    [
        ("12345", "has 5 digits"),
        ("+1234567890123456", "has 16 digits"),
        ("call after 6", "only digits"),
        ("+44 7700 900123 ext 4", "only digits"),
        ("44+7700900123", "only digits"),
        ("١٢٣٤٥٦٧٨", "only digits"),
    ],
)
def test_implausible_phones_name_their_fault(phone: str, reason: str) -> None:
    problem = phone_problem(phone)

    assert problem is not None
    assert reason in problem
