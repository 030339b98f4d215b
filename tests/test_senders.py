"""Sender configuration: what an operator may write, and what is refused."""

import pytest
from pydantic import ValidationError

from postline.senders import SenderConfig


def _sender(**values: object) -> SenderConfig:
    fields = {"name": "main", "from_email": "news@example.com"} | values
    return SenderConfig.model_validate(fields)


@pytest.mark.parametrize("domain", ["bad domain", "x", "-bad.example.com", "a..b"])
def test_a_bounce_domain_that_is_no_dns_name_is_refused(domain: str) -> None:
    with pytest.raises(ValidationError, match="bounce_domain"):
        _sender(bounce_domain=domain)


def test_a_bounce_domain_is_kept_lower_case() -> None:
    assert _sender(bounce_domain="Bounces.Example.COM").bounce_domain == (
        "bounces.example.com"
    )


def test_an_unknown_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="stratgy"):
        _sender(bounce_domain="b.example.com", stratgy=5)
