"""What a launch came to: counts from its ledger rows, and how they read.

Counts cover the whole launch, including work done by an earlier run that
crashed; elapsed time and the rate cover this run only. The template errors
of the launch come grouped by their text, most frequent first, since one
mistake in a template usually fails every recipient the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from postline.campaigns import campaign_log
from postline.campaigns.database import database_call
from postline.campaigns.ledger import SKIPPED
from postline.campaigns.rules import TEMPLATE_ERROR
from postline.store.tables import campaign_log as campaign_log_table
from postline.store.tables import launches, ledger

# Groups of template errors shown at the end of a run; the log has them all.
ERROR_GROUPS = 10


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
    # (error text, recipients) of the most frequent template errors.
    template_errors: tuple[tuple[str, int], ...] = ()
    # How many kinds of template error there are, shown or not.
    template_error_kinds: int = 0

    @property
    def nothing_rendered(self) -> bool:
        """Nothing queued, and recipients failed to render: the template is wrong."""
        return self.queued == 0 and self.skipped.get(TEMPLATE_ERROR, 0) > 0

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

    def error_lines(self, campaign_id: int) -> list[str]:
        """The template errors by text, and where to read the rest of them."""
        lines = [f"{TEMPLATE_ERROR} x{n}: {text}" for text, n in self.template_errors]
        hidden = self.template_error_kinds - len(self.template_errors)
        if hidden > 0:
            lines.append(
                f"... and {hidden} more kinds of error: "
                f"postline campaign log {campaign_id} --level ERROR"
            )
        return lines


@database_call
async def summarize(
    engine: AsyncEngine, launch_id: int, elapsed: float, published: int
) -> LaunchSummary:
    """The launch's summary, counted from its ledger rows and its log."""
    async with engine.connect() as conn:
        queued, skipped = await ledger_counts(conn, launch_id)
        errors, kinds = await _template_errors(conn, launch_id)

    return LaunchSummary(
        launch_id=launch_id,
        audience=queued + sum(skipped.values()),
        queued=queued,
        skipped=skipped,
        elapsed=elapsed,
        published=published,
        template_errors=errors,
        template_error_kinds=kinds,
    )


async def ledger_counts(
    conn: AsyncConnection, launch_id: int
) -> tuple[int, dict[str, int]]:
    """Rows of the launch that became a message, and the skipped ones by reason."""
    query = (
        select(ledger.c.status, ledger.c.reason, func.count())
        .where(ledger.c.launch_id == launch_id)
        .group_by(ledger.c.status, ledger.c.reason)
    )
    rows = (await conn.execute(query)).all()

    skipped: dict[str, int] = {}
    queued = 0
    for status, reason, count in rows:
        if status == SKIPPED:
            skipped[reason or "unknown"] = skipped.get(reason or "unknown", 0) + count
        else:
            queued += count
    return queued, skipped


async def _template_errors(
    conn: AsyncConnection, launch_id: int
) -> tuple[tuple[tuple[str, int], ...], int]:
    """The most frequent template errors of the launch, and how many kinds exist.

    An error entry counts when its ledger row was skipped for a template
    error, so other errors that may come to the log are left out.
    """
    log, count = campaign_log_table.c, func.count()
    # Naming the campaign lets the log's (campaign, id) index narrow the scan.
    campaign = select(launches.c.campaign_id).where(launches.c.id == launch_id)
    query = (
        select(log.message, count, func.count().over())
        .join(ledger, ledger.c.message_id == log.message_id)
        .where(log.campaign_id == campaign.scalar_subquery())
        .where(log.launch_id == launch_id, log.level == campaign_log.ERROR)
        .where(ledger.c.reason == TEMPLATE_ERROR)
        .group_by(log.message)
        .order_by(count.desc(), log.message)
        .limit(ERROR_GROUPS)
    )
    rows = (await conn.execute(query)).all()

    kinds = int(rows[0][2]) if rows else 0
    return tuple((str(text), int(n)) for text, n, _ in rows), kinds
