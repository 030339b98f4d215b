"""A progress bar for a run shown on a terminal, or nothing at all."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

Advance = Callable[[int], None]


@contextmanager
def progress_bar(enabled: bool, total: int, done: int = 0) -> Iterator[Advance]:
    """Yield a function that moves the bar on by a number of audience members."""
    if not enabled:
        yield lambda _members: None
        return

    columns = (
        TextColumn("[bold]sending"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("sending", total=total, completed=done)
        yield lambda members: bar.advance(task, members)
