"""Printing reports: rich tables for a terminal, JSON and CSV for programs.

Piped text, without tables, is ``plain``'s.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from postline.reports.campaign import CampaignReport
from postline.reports.undelivered import COLUMNS, UndeliveredRow
from postline.reports.wording import (
    CAMPAIGN_COLUMNS,
    NO_UNDELIVERED,
    CountLine,
    Kind,
    Tone,
    campaign_lines,
    campaign_title,
    campaign_verdicts,
)

_TONE_STYLES = {Tone.GOOD: "green", Tone.WARN: "yellow", Tone.BAD: "bold red"}


def print_campaign_report(report: CampaignReport, console: Console) -> None:
    """The title, a table of counts by status and reason, the verdicts below it."""
    # Above the table, not its title: a table title wraps at the table's width.
    console.print(
        escape(campaign_title(report)), style="bold", soft_wrap=True, highlight=False
    )
    table = Table()
    for name in CAMPAIGN_COLUMNS:
        table.add_column(name, justify="right" if name == "Count" else "left")

    for line in campaign_lines(report):
        # Sections frame the status lines between the audience and the total.
        if line.kind is Kind.TOTAL:
            table.add_section()
        table.add_row(*_cells(line))
        if line.kind is Kind.AUDIENCE:
            table.add_section()

    console.print(table)
    for verdict in campaign_verdicts(report):
        style = _TONE_STYLES[verdict.tone]
        console.print(
            escape(verdict.text), style=style, soft_wrap=True, highlight=False
        )


def _cells(line: CountLine) -> tuple[str, str, str]:
    status, reason, count = escape(line.status), escape(line.reason), str(line.count)
    if line.kind is Kind.AUDIENCE:
        return f"[bold]{status}[/]", reason, f"[bold]{count}[/]"
    if line.kind is Kind.REASON:
        return "", reason, count
    if line.kind is Kind.UNKNOWN:
        return f"[yellow]{status}[/]", reason, count
    return status, reason, count


def campaign_report_json(report: CampaignReport) -> str:
    return json.dumps(report.to_dict(), indent=2)


def print_undelivered_report(rows: Sequence[UndeliveredRow], console: Console) -> None:
    """The non-delivery report in the workflow's columns, largest count first."""
    if not rows:
        console.print(NO_UNDELIVERED)
        return

    table = Table(title="Non-delivery report", title_justify="left")
    for name in COLUMNS:
        table.add_column(name, justify="right" if name == "Amount" else "left")
    for row in rows:
        group, domain, text, count = row.cells()
        table.add_row(escape(group), escape(domain) or "-", escape(text), str(count))
    table.add_section()
    table.add_row("total", "", "", str(sum(row.count for row in rows)))
    console.print(table)


def undelivered_report_json(rows: Sequence[UndeliveredRow]) -> str:
    return json.dumps([row.to_dict() for row in rows], indent=2)


def write_undelivered_csv(rows: Sequence[UndeliveredRow], out: TextIO) -> None:
    """CSV with the workflow's column titles as the header line."""
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(row.cells() for row in rows)
