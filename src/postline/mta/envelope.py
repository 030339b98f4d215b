"""A message's envelope and identifiers, without its body.

The spool keeps envelopes in memory and bodies on disk; a journal header
carries the envelope in the short-keyed form of ``to_header``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from postline.bus.mail import OutboundEmail


@dataclass(frozen=True, slots=True)
class Envelope:
    """Who a message goes to and which launch it belongs to."""

    message_id: str
    mail_from: str
    rcpt_to: str
    sender_id: int
    campaign_id: int
    launch_id: int
    profile_id: int
    queued_at: datetime

    @property
    def domain(self) -> str:
        """The recipient's domain, lower-cased: the key for routing."""
        return self.rcpt_to.rpartition("@")[2].lower()

    @classmethod
    def of(cls, email: OutboundEmail) -> Envelope:
        """The envelope of an email: every field of it but the body."""
        return cls(**{name: getattr(email, name) for name in _FIELDS})

    def with_body(self, body: bytes) -> OutboundEmail:
        return OutboundEmail(
            **{name: getattr(self, name) for name in _FIELDS}, body=body
        )

    def to_header(self) -> dict[str, Any]:
        return {
            "id": self.message_id,
            "from": self.mail_from,
            "to": self.rcpt_to,
            "sid": self.sender_id,
            "cid": self.campaign_id,
            "lid": self.launch_id,
            "pid": self.profile_id,
            "qat": self.queued_at.isoformat(),
        }

    @classmethod
    def from_header(cls, header: dict[str, Any]) -> Envelope:
        return cls(
            message_id=header["id"],
            mail_from=header["from"],
            rcpt_to=header["to"],
            sender_id=header["sid"],
            campaign_id=header["cid"],
            launch_id=header["lid"],
            profile_id=header["pid"],
            queued_at=datetime.fromisoformat(header["qat"]),
        )


# An envelope is an OutboundEmail without its body, field for field.
_FIELDS = tuple(f.name for f in fields(Envelope))
