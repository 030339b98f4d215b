"""Syntax checks for email addresses and phone numbers, without the network.

An email address is accepted in the form mail is sent to in practice: one
``@``, a dot-atom local part of printable ASCII (quoted local parts and
address literals such as ``user@[192.0.2.1]`` are refused), and a domain of
at least two labels. Length limits are those of RFC 5321: 64 octets for the
local part, 255 for the domain, 254 for the whole address (the 256-octet
path minus its angle brackets). Internationalised domains are accepted,
checked and measured in their ASCII (``xn--``) form, which is also the form
``normalize_email`` gives them (see ``domains``).

A phone number is plausible when it holds 7 to 15 digits (the E.164 maximum),
an optional leading ``+``, and nothing else but spaces, dots, dashes and
parentheses, which are dropped.
"""

from __future__ import annotations

import re
import string

from postline.contacts.domains import ascii_domain

MAX_ADDRESS = 254
MAX_LOCAL = 64
MAX_DOMAIN = 255
MAX_LABEL = 63

# RFC 5322 atext: what a dot-atom local part may hold besides the dots.
_ATEXT = frozenset(string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-")
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$", re.IGNORECASE)
_PHONE_SEPARATORS = re.compile(r"[\s.()\-]")


def email_problem(address: str) -> str | None:
    """Why ``address`` is not a deliverable address, or None if it is one."""
    if any(ch.isspace() for ch in address):
        return "contains whitespace"

    if address.count("@") != 1:
        return "has no @" if "@" not in address else "has more than one @"

    local, domain = address.split("@")
    if len(normalize_email(address).encode("utf-8")) > MAX_ADDRESS:
        return f"is longer than {MAX_ADDRESS} characters"

    return _local_problem(local) or _domain_problem(domain)


def normalize_email(address: str) -> str:
    """The address as stored and sent: its domain in ASCII (``xn--``) lower case.

    RFC 5321 leaves the local part's case to the receiving server, so the
    local part is kept as written. A domain that is not a valid name is only
    lower-cased; ``email_problem`` says what is wrong with it.
    """
    local, at, domain = address.rpartition("@")
    if not at:
        return address

    try:
        domain = ascii_domain(domain)
    except ValueError:
        domain = domain.lower()

    return f"{local}@{domain}"


def email_key(address: str) -> str:
    """The form addresses are matched in: normalised, then wholly lower case.

    Two spellings of one mailbox (``Ana@Bücher.example``,
    ``ana@xn--bcher-kva.example``) have the same key; compare contacts, stop
    list entries and ledger rows by it.
    """
    return normalize_email(address).lower()


def phone_problem(phone: str) -> str | None:
    """Why ``phone`` is not a plausible phone number, or None if it is one."""
    compact = _PHONE_SEPARATORS.sub("", phone)
    digits = compact.removeprefix("+")
    if not digits.isascii() or not digits.isdigit():
        return "may hold only digits, an optional leading +, spaces and - . ( )"

    if not 7 <= len(digits) <= 15:
        return f"has {len(digits)} digits, expected 7 to 15"

    return None


def normalize_phone(phone: str) -> str:
    """The phone number without separators: digits, with a leading + if given."""
    return _PHONE_SEPARATORS.sub("", phone)


def _local_problem(local: str) -> str | None:
    if not local:
        return "has nothing before the @"

    if len(local) > MAX_LOCAL:
        return f"has a local part longer than {MAX_LOCAL} characters"

    if local.startswith(".") or local.endswith(".") or ".." in local:
        return "has a misplaced dot before the @"

    bad = sorted({ch for ch in local if ch != "." and ch not in _ATEXT})
    if bad:
        return f"has characters not allowed before the @: {''.join(bad)}"

    return None


def _domain_problem(domain: str) -> str | None:
    if not domain:
        return "has no domain after the @"

    if domain.startswith("["):
        return "has an address literal for a domain"

    try:
        encoded = ascii_domain(domain)
    except ValueError as exc:
        return f"has an invalid internationalised domain {domain}: {exc}"

    if len(encoded) > MAX_DOMAIN:
        return f"has a domain longer than {MAX_DOMAIN} characters"

    labels = encoded.split(".")
    if len(labels) < 2:
        return f"has a domain without a dot: {domain}"

    for label in labels:
        problem = _label_problem(label)
        if problem:
            return f"has a domain {problem}: {domain}"

    if labels[-1].isdigit():
        return f"has a numeric top-level domain: {domain}"

    return None


def _label_problem(label: str) -> str | None:
    if not label:
        return "with an empty label"

    if len(label) > MAX_LABEL:
        return f"with a label longer than {MAX_LABEL} characters"

    if not _LABEL.match(label):
        return "with a label that is not letters, digits and inner hyphens"

    return None
