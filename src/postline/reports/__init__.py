"""Reports: the campaign summary and the non-delivery report.

``campaign`` and ``undelivered`` query; ``wording`` says what the campaign
report tells; ``render`` prints rich tables, JSON and CSV; ``plain`` writes
tab-separated text for a pipe.
"""

from postline.reports.campaign import CampaignReport, campaign_report
from postline.reports.plain import write_campaign_report_text, write_undelivered_text
from postline.reports.render import (
    campaign_report_json,
    print_campaign_report,
    print_undelivered_report,
    undelivered_report_json,
    write_undelivered_csv,
)
from postline.reports.undelivered import UndeliveredRow, undelivered_report

__all__ = [
    "CampaignReport",
    "UndeliveredRow",
    "campaign_report",
    "campaign_report_json",
    "print_campaign_report",
    "print_undelivered_report",
    "undelivered_report",
    "undelivered_report_json",
    "write_campaign_report_text",
    "write_undelivered_csv",
    "write_undelivered_text",
]
