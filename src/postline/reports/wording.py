"""What the campaign report says, apart from how it is drawn.

The rich table (``render``) and the piped text (``plain``) both print the
title, count lines and verdicts made here, so a terminal and a pipe tell the
same story in the same words.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from postline.reports.campaign import IN_FLIGHT, CampaignReport

# Printed instead of an empty non-delivery table.
NO_UNDELIVERED = "Non-delivery report: no undelivered messages."

# Column titles of the campaign report.
CAMPAIGN_COLUMNS = ("Status", "Reason", "Count")


class Kind(StrEnum):
    """What a count line counts; the table styles and separates by it."""

    AUDIENCE = "audience"
    STATUS = "status"
    REASON = "reason"
    UNKNOWN = "unknown"
    TOTAL = "total"


@dataclass(frozen=True, slots=True)
class CountLine:
    """One line of the table; a reason line repeats its status."""

    kind: Kind
    status: str
    reason: str
    count: int


class Tone(StrEnum):
    GOOD = "good"
    WARN = "warn"
    BAD = "bad"


@dataclass(frozen=True, slots=True)
class Verdict:
    """A sentence below the table, and how worrying it is."""

    text: str
    tone: Tone


def campaign_title(report: CampaignReport) -> str:
    """One line naming the launch, its own status and the messages in flight.

    The launch status says whether the launch finished publishing; whether its
    messages reached a final status is said apart, so "finished" never reads
    as "every message is settled".
    """
    if report.in_flight:
        progress = f"{messages(report.in_flight)} in flight"
    else:
        progress = "no messages in flight"
    return (
        f"Campaign {report.campaign_id} {report.campaign_name!r}, "
        f"launch {report.launch_id}: launch {report.launch_status}, {progress}"
    )


def campaign_lines(report: CampaignReport) -> list[CountLine]:
    """Audience, then every status (non-deliveries and skips by reason), total."""
    lines = [CountLine(Kind.AUDIENCE, "audience", "", report.audience)]
    for status in (*IN_FLIGHT, "delivered"):
        lines.append(CountLine(Kind.STATUS, status, "", getattr(report, status)))
    for status, counts in (
        ("undelivered", report.undelivered),
        ("skipped", report.skipped),
    ):
        lines.append(CountLine(Kind.STATUS, status, "", sum(counts.values())))
        lines.extend(
            CountLine(Kind.REASON, status, reason, count)
            for reason, count in counts.items()
        )
    lines.append(CountLine(Kind.STATUS, "failed", "", report.failed))
    lines.extend(
        CountLine(Kind.UNKNOWN, status, "unknown status", count)
        for status, count in report.other.items()
    )
    lines.append(CountLine(Kind.TOTAL, "total", "", report.accounted))
    return lines


def campaign_verdicts(report: CampaignReport) -> list[Verdict]:
    """Messages still on their way, whether the counts add up, log errors."""
    verdicts = []
    if report.in_flight:
        verdicts.append(_in_flight(report))
    verdicts.append(_balance(report))
    if report.delivered_after_retry:
        verdicts.append(
            Verdict(
                f"Delivered after a soft bounce and a retry: "
                f"{messages(report.delivered_after_retry)}",
                Tone.GOOD,
            )
        )
    if report.delivered_unconfirmed:
        verdicts.append(
            Verdict(
                f"Delivered but unconfirmed (no answer to the final dot, not "
                f"resent): {messages(report.delivered_unconfirmed)}",
                Tone.WARN,
            )
        )
    tone = Tone.BAD if report.log_errors else Tone.GOOD
    errors = f"Campaign-log errors: {report.log_errors}"
    if report.log_errors:
        errors += f" (see postline campaign log {report.campaign_id} --level ERROR)"
    verdicts.append(Verdict(errors, tone))
    return verdicts


def messages(count: int) -> str:
    return f"{count} message" if count == 1 else f"{count} messages"


def _in_flight(report: CampaignReport) -> Verdict:
    parts = ", ".join(
        f"{status} {getattr(report, status)}"
        for status in IN_FLIGHT
        if getattr(report, status)
    )
    way = "its way" if report.in_flight == 1 else "their way"
    return Verdict(
        f"{messages(report.in_flight)} still on {way} ({parts}); "
        "run the report again later.",
        Tone.WARN,
    )


def _balance(report: CampaignReport) -> Verdict:
    if not report.adds_up:
        return Verdict(
            f"The counts do not add up: {report.accounted} ledger rows for an "
            f"audience of {report.audience} (difference {report.difference:+d}).",
            Tone.BAD,
        )

    if report.in_flight:
        return Verdict(
            f"Every audience member has a ledger row ({report.audience}), "
            "but the counts are not final yet.",
            Tone.WARN,
        )
    return Verdict(f"The counts add up to the audience ({report.audience}).", Tone.GOOD)
