"""Postline: marketing campaigns over email and SMS, with a built-in MTA."""

__version__ = "0.1.0"
