"""The rules that decide whether an audience member becomes a message.

They run in this order and the first that fails names the ``skipped``
reason: the profile's global status, the subscription's status, the platform
stop list, the address's syntax, and finally whether the same address was
already given a message in this launch. Addresses compare case-insensitively.
"""

from __future__ import annotations

from collections.abc import Container

from postline.campaigns.audience import Member
from postline.contacts.addresses import email_key, email_problem
from postline.store.tables import SubStatus

NOT_SUBSCRIBED = "not_subscribed"
STOP_LISTED = "stop_listed"
INVALID_CONTACT = "invalid_contact"
DUPLICATE_CONTACT = "duplicate_contact"
TEMPLATE_ERROR = "template_error"


def contact_key(contact: str) -> str:
    """The form addresses are compared in: lower case, the domain in ASCII."""
    return email_key(contact)


def skip_reason(
    member: Member, stop_listed: Container[str], seen: Container[str]
) -> str | None:
    """Why the member gets no message, or None if it gets one.

    ``stop_listed`` and ``seen`` hold contact keys: the batch's addresses on
    the stop list, and the addresses already given a message in this launch.
    """
    if member.global_status != SubStatus.SUBSCRIBED:
        return NOT_SUBSCRIBED

    if member.subscription_status != SubStatus.SUBSCRIBED:
        return NOT_SUBSCRIBED

    key = contact_key(member.contact)
    if key in stop_listed:
        return STOP_LISTED

    if email_problem(member.contact) is not None:
        return INVALID_CONTACT

    if key in seen:
        return DUPLICATE_CONTACT

    return None
