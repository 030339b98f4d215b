"""Contacts: profiles, lists and subscriptions, and importing them from CSV.

``import_contacts`` reads a CSV file into profiles and their subscriptions to
one list and reports every rejected row with its line and reason, and every
row whose status it kept because an import never resubscribes.

``normalize_email`` gives an address the form it is stored and sent in (its
domain in ASCII, ``xn--``, lower case) and ``email_key`` the form addresses
are matched in; ``email_problem`` says why an address is not deliverable.
"""

from postline.contacts.addresses import email_key, email_problem, normalize_email
from postline.contacts.importer import KeepHandler, RejectHandler, import_contacts
from postline.contacts.results import ImportResult, KeptStatus, RowError

__all__ = [
    "ImportResult",
    "KeepHandler",
    "KeptStatus",
    "RejectHandler",
    "RowError",
    "email_key",
    "email_problem",
    "import_contacts",
    "normalize_email",
]
