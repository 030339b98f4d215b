"""Reports as plain text, for a pipe or a file: no tables, no colour, no wrapping.

Each line is one row, its columns separated by a single tab, so that ``grep``
finds whole rows, ``cut -f`` picks columns and ``column -t -s $'\\t'`` aligns
them. A reason line repeats its status (``undelivered<TAB>hard_bounce<TAB>2``),
so a search for the status finds it too. Tabs and line breaks inside a value
(none are expected) become spaces, so a row never spans two lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TextIO

from postline.reports.campaign import CampaignReport
from postline.reports.undelivered import COLUMNS, UndeliveredRow
from postline.reports.wording import (
    CAMPAIGN_COLUMNS,
    NO_UNDELIVERED,
    campaign_lines,
    campaign_title,
    campaign_verdicts,
)

_BREAKS = re.compile(r"[\t\r\n\v\f]+")


def write_campaign_report_text(report: CampaignReport, out: TextIO) -> None:
    """Title line, header line, one line per count, then the verdicts."""
    _write(out, [campaign_title(report)])
    _write(out, CAMPAIGN_COLUMNS)
    for line in campaign_lines(report):
        _write(out, [line.status, line.reason, str(line.count)])

    for verdict in campaign_verdicts(report):
        _write(out, [verdict.text])


def write_undelivered_text(rows: Sequence[UndeliveredRow], out: TextIO) -> None:
    """Header line with the workflow's column titles, one line per row, total."""
    if not rows:
        _write(out, [NO_UNDELIVERED])
        return

    _write(out, COLUMNS)
    for row in rows:
        group, domain, text, count = row.cells()
        _write(out, [group, domain or "-", text, str(count)])
    _write(out, ["total", "", "", str(sum(row.count for row in rows))])


def _write(out: TextIO, cells: Iterable[str]) -> None:
    out.write("\t".join(_BREAKS.sub(" ", cell) for cell in cells) + "\n")
