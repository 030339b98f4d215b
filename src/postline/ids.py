"""Message ids and the envelope sender that carries them.

A message id is derived from (launch, profile, channel), so the same launch
run twice computes the same ids and finds what it already did. The envelope
sender (VERP) embeds the id, so a bounce that arrives later names its message.
"""

from __future__ import annotations

import re

_CHANNELS = {"email": "e", "sms": "s"}
_ID = re.compile(r"^(?P<launch>\d+)\.(?P<profile>\d+)\.(?P<channel>[a-z])$")
_VERP_PREFIX = "b-"


def message_id(launch_id: int, profile_id: int, channel: str) -> str:
    """The deterministic id of one launch's message to one profile on a channel."""
    return f"{launch_id}.{profile_id}.{_CHANNELS[channel]}"


def parse_message_id(value: str) -> tuple[int, int, str] | None:
    """(launch, profile, channel) of a message id, or None if it is not one."""
    match = _ID.match(value)
    if match is None:
        return None
    channel = next(k for k, v in _CHANNELS.items() if v == match["channel"])
    return int(match["launch"]), int(match["profile"]), channel


def verp_address(msg_id: str, bounce_domain: str) -> str:
    """Envelope sender for a message: ``b-<id>@<bounce domain>``."""
    return f"{_VERP_PREFIX}{msg_id}@{bounce_domain}"


def message_id_from_verp(address: str) -> str | None:
    """The message id named by an envelope sender, or None if it names none."""
    local = address.strip("<>").rpartition("@")[0]
    if not local.startswith(_VERP_PREFIX):
        return None
    candidate = local[len(_VERP_PREFIX) :]
    return candidate if _ID.match(candidate) else None
