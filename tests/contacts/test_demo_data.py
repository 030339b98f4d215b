"""The demo's example files: contacts that import as planned, a sender, a template."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import yaml
from sqlalchemy.ext.asyncio import AsyncEngine

from conftest import unique
from postline.cli.config import read_config
from postline.contacts import import_contacts
from postline.contacts.addresses import email_problem
from postline.demo.data import make_contacts
from postline.templates import CampaignTemplate

DATA = Path(make_contacts.__file__).parent
RESERVED = ("example.com", "example.net", "example.org")
SUBDOMAINS = tuple(f".{domain}" for domain in RESERVED)


def well_formed_rows() -> list[dict[str, str]]:
    """The rows with a full set of cells and a well-formed address."""
    with (DATA / "contacts.csv").open(encoding="utf-8", newline="") as file:
        header, *rows = csv.reader(file)
    return [
        dict(zip(header, row, strict=True))
        for row in rows
        if len(row) == len(header) and email_problem(row[0]) is None
    ]


def test_the_committed_contacts_are_what_the_generator_writes() -> None:
    demo = make_contacts.build()

    assert (DATA / "contacts.csv").read_text(encoding="utf-8") == demo.render()
    assert len(demo.rows) == demo.profiles + demo.rejected


async def test_the_demo_contacts_import_with_the_rejections_the_generator_planted(
    engine: AsyncEngine,
) -> None:
    demo = make_contacts.build()

    result = await import_contacts(engine, DATA / "contacts.csv", unique("newsletter"))

    assert len(result.rejected) == demo.rejected
    assert result.imported == demo.profiles
    kinds = Counter(
        error.reason.split(" '")[0].split(":")[0] for error in result.rejected
    )
    assert kinds == {
        "invalid email address": 5,
        "missing email": 1,
        "duplicate email": 2,
        "wrong column count": 2,
        "invalid status": 1,
        "implausible phone": 1,
    }


def test_the_demo_contacts_have_the_planned_mix() -> None:
    rows = well_formed_rows()
    statuses = Counter(row["status"] for row in rows)
    domains = {row["email"].rpartition("@")[2].lower() for row in rows}
    tags = Counter(
        row["email"].partition("+")[2].partition("@")[0]
        for row in rows
        if "+" in row["email"]
    )

    assert statuses["subscribed"] / len(rows) > 0.85
    assert {"unsubscribed", "complained", "unconfirmed", "suspended"} < set(statuses)
    assert all(d in RESERVED or d.endswith(SUBDOMAINS) for d in domains)
    assert tags == {"hard": 40, "soft": 40, "spam": 20}
    assert {"José", "Zoë", "Łukasz"} <= {row["first_name"] for row in rows}
    assert {row["plan"] for row in rows} == {"free", "pro", "business"}


def test_the_demo_sender_is_the_fast_mta() -> None:
    (sender,) = read_config(DATA / "config.yaml")

    assert sender.name == "demo-mta"
    assert sender.from_email.endswith("@example.com")
    assert sender.bounce_domain == "bounces.example.com"
    assert (sender.strategy_messages, sender.strategy_interval) == (500, 1)
    assert (sender.connections, sender.retry_attempts, sender.retry_interval) == (
        4,
        3,
        2,
    )


def test_the_newsletter_greets_by_name_and_shows_the_plan_and_recent_items() -> None:
    template = demo_template()
    profile = {
        "email": "zoe@example.com",
        "first_name": "Zoë",
        "plan": "business",
        "recent_items": "Linen Shirt;Espresso Cups, set of 4",
    }

    content = template.render({**profile, "unsubscribe_url": "https://u.example/1"})

    assert content.subject.startswith("Zoë,")
    for part in (content.html, content.text):
        assert "Hi Zoë," in part
        assert "Business membership" in part or "BUSINESS MEMBERSHIP" in part
        assert "Linen Shirt" in part
        assert "Espresso Cups, set of 4" in part
        assert "https://u.example/1" in part
        assert "Try Pro free" not in part


def test_the_newsletter_falls_back_when_a_profile_has_no_name_or_plan() -> None:
    template = demo_template()

    content = template.render(
        {"email": "x@example.com", "unsubscribe_url": "https://u.example/2"}
    )

    assert content.subject.startswith("Hello,")
    assert "Hi there," in content.html
    assert "Try Pro free" in content.html
    assert "Still thinking it over?" not in content.html
    assert "Hi there," in content.text


def demo_template() -> CampaignTemplate:
    campaign = yaml.safe_load((DATA / "campaign.yaml").read_text(encoding="utf-8"))
    assert (campaign["list"], campaign["sender"]) == ("newsletter", "demo-mta")
    return CampaignTemplate(
        campaign["subject"],
        (DATA / campaign["html_file"]).read_text(encoding="utf-8"),
        (DATA / campaign["text_file"]).read_text(encoding="utf-8"),
    )
