"""Contacts: profiles, lists and subscriptions, and importing them from CSV.

``import_contacts`` reads a CSV file into profiles and their subscriptions to
one list and reports every rejected row with its line and reason.
"""

from postline.contacts.importer import RejectHandler, import_contacts
from postline.contacts.results import ImportResult, RowError

__all__ = ["ImportResult", "RejectHandler", "RowError", "import_contacts"]
