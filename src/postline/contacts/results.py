"""What an import reports: counts, rejected rows, and statuses it kept."""

from __future__ import annotations

from dataclasses import dataclass, field

from postline.store.tables import SubStatus


@dataclass(frozen=True, slots=True)
class RowError:
    """A rejected row: the physical line it starts on, and why."""

    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class KeptStatus:
    """A row whose status the import did not apply, because it would resubscribe.

    ``status`` is the subscription's status, which stays; ``asked`` is the one
    the file gave. The row's other values were written.
    """

    line: int
    email: str
    status: SubStatus
    asked: SubStatus


@dataclass(slots=True)
class ImportResult:
    """Rows of one import by outcome; each accepted row counts once.

    ``imported``: a new profile or a new subscription to the list.
    ``updated``: both existed, and a value of either changed.
    ``unchanged``: both existed with the same values; nothing was written.
    ``kept``: the file asked to resubscribe a subscription that is
    unsubscribed, complained or hard-bounced; its status stayed, while the
    row's other values were written like those of an updated row.
    """

    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RowError] = field(default_factory=list)
    kept: int = 0

    @property
    def accepted(self) -> int:
        """Rows that were not rejected."""
        return self.imported + self.updated + self.unchanged + self.kept
