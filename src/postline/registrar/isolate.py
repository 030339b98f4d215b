"""Setting aside the events PostgreSQL refuses, so that one cannot hold up the rest.

A batch fails as a whole when PostgreSQL refuses one value in it. Retrying it
would fail forever and every later event would wait behind it, so a refused
batch is cut in halves and each half applied in a transaction of its own,
again and again, until each refused event stands alone. Halves are applied
first to last, so the events of one message still apply in the order they
came. With ``r`` refused events among ``n``, that costs about
``2 r log2 n`` transactions: 18 for one bad event in a batch of 500.

Only ``DataRefusedError`` splits a batch. Any other ``StoreError`` (the server
is down, the connection was lost) is raised as it is: the caller returns the
whole batch to the queue. Halves committed before it stay committed, which is
harmless because applying an event again changes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from postline.bus.events import StatusEvent
from postline.errors import DataRefusedError
from postline.registrar.batch import apply_events

log = logging.getLogger(__name__)

_Part = list[tuple[int, StatusEvent]]


@dataclass(frozen=True, slots=True)
class Refusal:
    """An event PostgreSQL refused: its position in the batch, and the reason."""

    index: int
    event: StatusEvent
    reason: str


async def apply_isolating(
    engine: AsyncEngine, batch: Sequence[StatusEvent]
) -> list[Refusal]:
    """Apply the batch except the events PostgreSQL refuses; return those.

    Raises ``StoreError`` when PostgreSQL fails for any other reason.
    """
    if not batch:
        return []

    started = time.monotonic()
    try:
        await apply_events(engine, list(batch))
        return []
    except DataRefusedError as exc:
        first = exc

    refused = await _split(engine, list(enumerate(batch)), first)
    log.warning(
        "batch isolated events=%d refused=%d elapsed=%.3fs",
        len(batch),
        len(refused),
        time.monotonic() - started,
    )
    return refused


async def _split(
    engine: AsyncEngine, part: _Part, refusal: DataRefusedError
) -> list[Refusal]:
    """The refused events of ``part``, which as a whole failed with ``refusal``."""
    if len(part) == 1:
        index, event = part[0]
        log.warning(
            "event refused event_id=%.250s reason=%r", event.event_id, str(refusal)
        )
        return [Refusal(index, event, str(refusal))]

    middle = len(part) // 2
    refused: list[Refusal] = []
    for half in (part[:middle], part[middle:]):
        try:
            await apply_events(engine, [event for _, event in half])
        except DataRefusedError as exc:
            refused += await _split(engine, half, exc)

    return refused
