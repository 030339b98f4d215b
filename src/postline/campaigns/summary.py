"""What a launch came to: counts from its ledger rows, and how they read.

Counts cover the whole launch, including work done by an earlier run that
crashed; elapsed time and the rate cover this run only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from postline.campaigns.database import database_call
from postline.campaigns.ledger import SKIPPED
from postline.store.tables import ledger


@dataclass(frozen=True, slots=True)
class LaunchSummary:
    """The outcome of a launch. ``elapsed`` is in seconds."""

    launch_id: int
    audience: int
    # Members that became a message (queued, or any status the MTA set since).
    queued: int
    skipped: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0
    # Messages this run published, those republished after a crash included.
    published: int = 0

    @property
    def rate(self) -> float:
        """Messages this run published per second."""
        return self.published / self.elapsed if self.elapsed > 0 else 0.0

    def counts(self) -> str:
        """One line of counts, e.g. ``audience 10, queued 8, skipped 2 (...)``."""
        line = f"audience {self.audience}, queued {self.queued}"
        if self.skipped:
            reasons = ", ".join(f"{r} {n}" for r, n in sorted(self.skipped.items()))
            line += f", skipped {sum(self.skipped.values())} ({reasons})"
        return line

    def lines(self) -> list[str]:
        """The summary as printed at the end of ``postline campaign run``."""
        skipped = [f"  {r:<18} {n}" for r, n in sorted(self.skipped.items())]
        return [
            f"launch     {self.launch_id}",
            f"audience   {self.audience}",
            f"queued     {self.queued}",
            f"skipped    {sum(self.skipped.values())}",
            *skipped,
            f"elapsed    {self.elapsed:.2f} s",
            f"rate       {self.rate:.0f} messages/s ({self.published} published)",
        ]


@database_call
async def summarize(
    engine: AsyncEngine, launch_id: int, elapsed: float, published: int
) -> LaunchSummary:
    """The launch's summary, counted from its ledger rows."""
    query = (
        select(ledger.c.status, ledger.c.reason, func.count())
        .where(ledger.c.launch_id == launch_id)
        .group_by(ledger.c.status, ledger.c.reason)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()

    skipped: dict[str, int] = {}
    queued = 0
    for status, reason, count in rows:
        if status == SKIPPED:
            skipped[reason or "unknown"] = skipped.get(reason or "unknown", 0) + count
        else:
            queued += count

    return LaunchSummary(
        launch_id=launch_id,
        audience=queued + sum(skipped.values()),
        queued=queued,
        skipped=skipped,
        elapsed=elapsed,
        published=published,
    )
