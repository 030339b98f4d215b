"""How one status event moves one ledger row: forward only.

The rank is queued < submitted < deferred < final (delivered, undelivered,
failed, skipped). An event moves a row to a higher rank; a deferred event with
a higher attempt refreshes a deferred row. A final status never changes, with
one exception: an asynchronous bounce (a DSN, or a provider's bounce event)
turns ``delivered`` into ``undelivered``. Everything else is late or repeated
news and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from postline.bus.events import FINAL_STATUSES, StatusEvent

_FINAL_RANK = 4
RANKS: dict[str, int] = {
    "queued": 1,
    "submitted": 2,
    "deferred": 3,
    **dict.fromkeys(FINAL_STATUSES, _FINAL_RANK),
}

HARD_BOUNCE = "hard_bounce"


@dataclass(frozen=True, slots=True)
class LedgerState:
    """The columns of a ledger row that events change."""

    status: str
    reason: str | None
    reply: str | None
    attempts: int

    @property
    def hard_bounced(self) -> bool:
        return self.status == "undelivered" and self.reason == HARD_BOUNCE


def advance(state: LedgerState, event: StatusEvent) -> LedgerState | None:
    """The row after the event, or None when the event changes nothing."""
    if not _moves(state, event):
        return None

    return LedgerState(
        status=event.status,
        reason=event.reason,
        reply=event.reply,
        attempts=max(state.attempts, event.attempt),
    )


def _moves(state: LedgerState, event: StatusEvent) -> bool:
    if state.status == "delivered" and event.status == "undelivered":
        # Accepted, then bounced later: the one way out of a final status.
        return event.asynchronous

    if state.status == "deferred" and event.status == "deferred":
        return event.attempt > state.attempts

    # A status the rank does not know (none should exist) counts as the lowest.
    return RANKS[event.status] > RANKS.get(state.status, 0)
