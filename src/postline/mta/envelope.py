"""A message's envelope and identifiers, without its body.

The spool keeps envelopes in memory and bodies on disk; a journal header
carries the envelope in the short-keyed form of ``to_header``.
"""

from __future__ import annotations

from dataclasses import dataclass
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
        return cls(
            message_id=email.message_id,
            mail_from=email.mail_from,
            rcpt_to=email.rcpt_to,
            sender_id=email.sender_id,
            campaign_id=email.campaign_id,
            launch_id=email.launch_id,
            profile_id=email.profile_id,
            queued_at=email.queued_at,
        )

    def with_body(self, body: bytes) -> OutboundEmail:
        return OutboundEmail(
            message_id=self.message_id,
            mail_from=self.mail_from,
            rcpt_to=self.rcpt_to,
            sender_id=self.sender_id,
            campaign_id=self.campaign_id,
            launch_id=self.launch_id,
            profile_id=self.profile_id,
            queued_at=self.queued_at,
            body=body,
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
