"""What an import reports: counts, and each rejected row with its reason."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class RowError:
    """A rejected row: the physical line it starts on, and why."""

    line: int
    reason: str


@dataclass(slots=True)
class ImportResult:
    """Rows of one import by outcome; each accepted row counts once.

    ``imported``: a new profile or a new subscription to the list.
    ``updated``: both existed, and a value of either changed.
    ``unchanged``: both existed with the same values; nothing was written.
    """

    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RowError] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        """Rows that were not rejected."""
        return self.imported + self.updated + self.unchanged
