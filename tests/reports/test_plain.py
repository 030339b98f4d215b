"""Reports as plain text: one tab-separated row per line, nothing drawn."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from typing import Any

from postline.reports import (
    CampaignReport,
    UndeliveredRow,
    write_campaign_report_text,
    write_undelivered_text,
)
from postline.reports.undelivered import COLUMNS

# Box drawing and block characters, and terminal escape sequences.
DRAWN = re.compile(r"[\u2500-\u259f]|\x1b\[")


def campaign_text(report: CampaignReport) -> list[str]:
    out = io.StringIO()
    write_campaign_report_text(report, out)
    return out.getvalue().splitlines()


def undelivered_text(rows: list[UndeliveredRow]) -> list[str]:
    out = io.StringIO()
    write_undelivered_text(rows, out)
    return out.getvalue().splitlines()


def a_report(**counts: Any) -> CampaignReport:
    return CampaignReport(
        campaign_id=7,
        campaign_name="Spring sale for every subscriber who bought twice last year",
        launch_id=42,
        launch_status="finished",
        started_at=datetime(2024, 3, 1, tzinfo=UTC),
        finished_at=datetime(2024, 3, 1, 1, tzinfo=UTC),
        audience=9,
        **counts,
    )


def test_the_campaign_text_is_one_tab_separated_row_per_count_below_a_title() -> None:
    report = a_report(
        queued=1,
        delivered=4,
        undelivered={"hard_bounce": 2, "bounce": 1},
        skipped={"stop_listed": 1},
    )

    lines = campaign_text(report)

    assert not any(DRAWN.search(line) for line in lines)
    assert lines[0].startswith("Campaign 7 'Spring sale for every subscriber")
    assert lines[0].endswith("launch 42: launch finished, 1 message in flight")
    assert lines[1].split("\t") == ["Status", "Reason", "Count"]
    rows = [line.split("\t") for line in lines[2:] if line.count("\t") == 2]
    assert rows[0] == ["audience", "", "9"]
    assert ["undelivered", "", "3"] in rows
    assert ["undelivered", "hard_bounce", "2"] in rows
    assert ["skipped", "stop_listed", "1"] in rows
    assert rows[-1] == ["total", "", str(report.accounted)]
    assert "1 message still on its way (queued 1); run the report again later." in (
        lines
    )


def test_the_undelivered_text_keeps_each_row_whole_on_one_line() -> None:
    long_text = "550 5.7.1 <<email>>: " + "message refused by local policy " * 8
    rows = [
        UndeliveredRow("all campaigns", None, "gone.test", long_text, 5),
        UndeliveredRow("all campaigns", None, "far.test", "lifetime_expired", 2),
        UndeliveredRow("all campaigns", None, "", "550 no\tsuch\r\nuser", 1),
    ]

    lines = undelivered_text(rows)

    assert not any(DRAWN.search(line) for line in lines)
    assert lines[0].split("\t") == list(COLUMNS)
    assert [line for line in lines if "gone.test" in line] == [
        f"all campaigns\tgone.test\t{long_text}\t5"
    ]
    assert lines[3].split("\t") == ["all campaigns", "-", "550 no such user", "1"]
    assert lines[4].split("\t") == ["total", "", "", "8"]
    assert len(lines) == 5


def test_an_empty_non_delivery_report_says_so_in_one_line() -> None:
    assert undelivered_text([]) == ["Non-delivery report: no undelivered messages."]
