"""The campaign run and its rules: create a campaign, launch it, resume it.

``create_campaign`` (in ``create``) stores a campaign from its YAML file;
``run_campaign`` (in ``run``) sends a launch of it to the MTA's queue.
"""

from postline.campaigns.create import create_campaign
from postline.campaigns.run import run_campaign
from postline.campaigns.summary import LaunchSummary

__all__ = ["LaunchSummary", "create_campaign", "run_campaign"]
