"""Printing reports: rich tables for a terminal, JSON and CSV for programs."""

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


def print_campaign_report(report: CampaignReport, console: Console) -> None:
    """A table of counts by status and reason, and whether they add up."""
    table = Table(
        title=(
            f"Campaign {report.campaign_id} {escape(repr(report.campaign_name))}, "
            f"launch {report.launch_id} ({report.launch_status})"
        ),
        title_justify="left",
    )
    table.add_column("Status")
    table.add_column("Reason")
    table.add_column("Count", justify="right")

    table.add_row("[bold]audience[/]", "", f"[bold]{report.audience}[/]")
    table.add_section()
    for status in ("queued", "submitted", "deferred", "delivered"):
        table.add_row(status, "", str(getattr(report, status)))
    _add_by_reason(table, "undelivered", report.undelivered)
    _add_by_reason(table, "skipped", report.skipped)
    table.add_row("failed", "", str(report.failed))
    for status, count in report.other.items():
        table.add_row(f"[yellow]{escape(status)}[/]", "unknown status", str(count))
    table.add_section()
    table.add_row("total", "", str(report.accounted))

    console.print(table)
    console.print(_balance(report))
    style = "red" if report.log_errors else "green"
    console.print(f"Campaign-log errors: [{style}]{report.log_errors}[/]")


def _add_by_reason(table: Table, status: str, counts: dict[str, int]) -> None:
    table.add_row(status, "", str(sum(counts.values())))
    for reason, count in counts.items():
        table.add_row("", escape(reason), str(count))


def _balance(report: CampaignReport) -> str:
    if report.adds_up:
        return f"[green]The counts add up to the audience ({report.audience}).[/]"
    return (
        f"[bold red]The counts do not add up: {report.accounted} ledger rows for "
        f"an audience of {report.audience} (difference {report.difference:+d}).[/]"
    )


def campaign_report_json(report: CampaignReport) -> str:
    return json.dumps(report.to_dict(), indent=2)


def print_undelivered_report(rows: Sequence[UndeliveredRow], console: Console) -> None:
    """The non-delivery report in the workflow's columns, largest count first."""
    if not rows:
        console.print("Non-delivery report: no undelivered messages.")
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
