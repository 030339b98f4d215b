"""Contacts: profiles, lists and subscriptions, and importing them from CSV.

``import_contacts`` reads a CSV file into profiles and their subscriptions to
one list and reports every rejected row with its line and reason, and every
row whose status it kept because an import never resubscribes.
"""

from postline.contacts.importer import KeepHandler, RejectHandler, import_contacts
from postline.contacts.results import ImportResult, KeptStatus, RowError

__all__ = [
    "ImportResult",
    "KeepHandler",
    "KeptStatus",
    "RejectHandler",
    "RowError",
    "import_contacts",
]
