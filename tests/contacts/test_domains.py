"""Internationalised domains: every spelling of a name gives one ASCII form."""

from __future__ import annotations

import pytest

from postline.contacts.domains import ascii_domain


@pytest.mark.parametrize(
    "domain",
    [
        "bücher.example.com",
        "BÜCHER.Example.COM",
        "xn--bcher-kva.example.com",
        "XN--BCHER-KVA.EXAMPLE.COM",
        "bücher\u3002example\uff0ecom",
        "\uff42\u00fc\uff43\uff48\uff45\uff52.example.com",
    ],
)
def test_every_spelling_of_a_domain_has_one_ascii_form(domain: str) -> None:
    assert ascii_domain(domain) == "xn--bcher-kva.example.com"


def test_an_ascii_domain_is_only_lowered() -> None:
    assert ascii_domain("Mail.Example.NET") == "mail.example.net"


def test_empty_labels_are_kept_for_the_caller_to_judge() -> None:
    assert ascii_domain("bücher..example") == "xn--bcher-kva..example"


def test_an_ascii_form_in_idna_2008_is_accepted_as_given() -> None:
    assert ascii_domain("XN--STRAE-OQA.example") == "xn--strae-oqa.example"


@pytest.mark.parametrize(
    ("domain", "reason"),
    [
        ("straße.example", "label 'straße' holds ß, which IDNA 2003 and IDNA 2008"),
        ("a\u200db.example", "holds U+200D"),
        ("ü" * 64 + ".example", "cannot be encoded: label empty or too long"),
        ("bü\u200echer.example", "cannot be encoded: Invalid character"),
        ("\u0627a.example", "cannot be encoded: Violation of BIDI"),
        ("xn--zz.example", "label 'xn--zz' is not valid punycode"),
        ("xn--abc-.example", "label 'xn--abc-' encodes no Unicode characters"),
        ("xn--bcher-2pa.example", "is not the ASCII form of 'bÜcher'"),
    ],
)
def test_a_label_that_is_no_valid_name_is_refused_with_its_reason(
    domain: str, reason: str
) -> None:
    with pytest.raises(ValueError) as caught:
        ascii_domain(domain)

    assert reason in str(caught.value)
