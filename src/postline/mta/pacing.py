"""The sender's strategy as a pace: evenly spaced sends, never a burst.

A strategy of ``messages`` per ``interval`` seconds gives one send slot every
``interval / messages`` seconds. A slot missed while idle is not saved up
beyond ``catch_up`` seconds' worth, so a quiet minute is not followed by a
minute's worth of mail at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

# Below this, sleeping costs more than it spaces.
_MIN_SLEEP = 0.001


class Pacer:
    """Hands out send slots ``interval / messages`` seconds apart."""

    def __init__(
        self,
        messages: int,
        interval: float,
        *,
        catch_up: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.spacing = interval / messages
        self._catch_up = catch_up
        self._clock = clock
        self._sleep = sleep
        self._next = clock()

    async def wait(self) -> None:
        """Return at this caller's slot; every call takes the next slot."""
        now = self._clock()
        slot = max(self._next, now - self._catch_up)
        self._next = slot + self.spacing

        delay = slot - now
        if delay > _MIN_SLEEP:
            await self._sleep(delay)
