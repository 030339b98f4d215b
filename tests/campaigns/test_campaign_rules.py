"""The rules: each skip reason comes from the data that calls for it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from campaigns.data import Audience, drain, header_int, ledger_rows, log_entries
from postline.campaigns import create_campaign, run_campaign
from postline.campaigns.audience import Member
from postline.campaigns.rules import contact_key, skip_reason
from postline.settings import Settings
from postline.store.tables import SubStatus


def _member(contact: str, *, global_status: int = 0, status: int = 0) -> Member:
    return Member(
        profile_id=1,
        contact=contact,
        subscription_status=status,
        global_status=global_status,
        profile={},
    )


def test_the_first_failing_rule_names_the_reason() -> None:
    # Every rule fails for this member; the global status is checked first.
    member = _member("Bad Address", global_status=SubStatus.COMPLAINED, status=1)
    everything = {"bad address"}

    assert skip_reason(member, everything, everything) == "not_subscribed"
    member = _member("Bad Address", status=SubStatus.UNCONFIRMED)
    assert skip_reason(member, everything, everything) == "not_subscribed"
    assert skip_reason(_member("Bad Address"), everything, everything) == "stop_listed"
    assert skip_reason(_member("Bad Address"), set(), everything) == "invalid_contact"
    assert skip_reason(_member("a@b.test"), set(), {"a@b.test"}) == "duplicate_contact"
    assert skip_reason(_member("a@b.test"), set(), set()) is None


async def test_each_skip_reason_comes_from_the_data_that_calls_for_it(
    settings: Settings, engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    sent = [await audience.add() for _ in range(3)]
    globally_off = await audience.add(global_status=SubStatus.UNSUBSCRIBED)
    unsubscribed = await audience.add(status=SubStatus.UNSUBSCRIBED)
    bounced = await audience.add(status=SubStatus.HARDBOUNCED)
    listed_address = audience.address("Listed")
    await audience.stop_list(listed_address.lower())
    stop_listed = await audience.add(listed_address)
    invalid = await audience.add(f"no-at-sign-{audience.tag}.example.test")
    original = audience.address("twin")
    first_twin = await audience.add(original)
    # A second profile whose subscription names the same address in capitals.
    second_twin = await audience.add(original.upper(), email=audience.address())
    campaign_id = await create_campaign(engine, audience.campaign_file(tmp_path))

    summary = await run_campaign(settings, engine, campaign_id)

    rows = await ledger_rows(engine, summary.launch_id)
    outcome = {pid: (row["status"], row["reason"]) for pid, row in rows.items()}
    assert outcome == {
        **{pid: ("queued", None) for pid in [*sent, first_twin]},
        globally_off: ("skipped", "not_subscribed"),
        unsubscribed: ("skipped", "not_subscribed"),
        bounced: ("skipped", "not_subscribed"),
        stop_listed: ("skipped", "stop_listed"),
        invalid: ("skipped", "invalid_contact"),
        second_twin: ("skipped", "duplicate_contact"),
    }
    assert summary.skipped == dict(
        Counter(r for s, r in outcome.values() if s == "skipped")
    )
    assert summary.queued + sum(summary.skipped.values()) == summary.audience == 10

    queued = await drain(settings.amqp_url, f"akmta_{audience.sender.id}")
    assert sorted(header_int(m, "profile_id") for m in queued) == sorted(
        [*sent, first_twin]
    )


async def test_every_skipped_member_has_a_reason_in_the_campaign_log(
    settings: Settings, engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    await audience.add()
    unsubscribed = await audience.add(status=SubStatus.UNSUBSCRIBED)
    campaign_id = await create_campaign(engine, audience.campaign_file(tmp_path))

    summary = await run_campaign(settings, engine, campaign_id)

    per_recipient = [
        e for e in await log_entries(engine, summary.launch_id) if e["profile_id"]
    ]
    assert [(e["profile_id"], e["message"]) for e in per_recipient] == [
        (unsubscribed, "skipped: not_subscribed")
    ]


async def test_a_profile_with_two_addresses_gets_one_message_at_the_higher_priority(
    settings: Settings, engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    profile_id = await audience.add(priority=1)
    preferred = audience.address("preferred")
    await audience.add(preferred, priority=5, profile_id=profile_id)
    campaign_id = await create_campaign(engine, audience.campaign_file(tmp_path))

    summary = await run_campaign(settings, engine, campaign_id)

    rows = await ledger_rows(engine, summary.launch_id)
    assert summary.audience == 1
    assert rows[profile_id]["contact"] == preferred


def test_two_spellings_of_one_internationalised_domain_are_one_contact() -> None:
    seen = {contact_key("idn@xn--bcher-kva.example.com")}

    reason = skip_reason(_member("IDN@Bücher.example.com"), set(), seen)

    assert reason == "duplicate_contact"
