"""Reports: the campaign summary and the non-delivery report.

``campaign`` and ``undelivered`` query; ``render`` prints tables, JSON and CSV.
"""

from postline.reports.campaign import CampaignReport, campaign_report
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
    "write_undelivered_csv",
]
