"""A sender's open SMTP sessions, reused across messages to the same route.

At most ``limit`` sessions are open at once, in use or idle. A session goes
back to the pool after each transaction unless it broke or has carried
``max_messages``; idle sessions are closed after ``idle_seconds``, and the
oldest idle one is closed early when another route needs the room.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from postline.mta.routing import Route
from postline.mta.smtp import SmtpSession

log = logging.getLogger(__name__)

Opener = Callable[[Route], Awaitable[SmtpSession]]


class SessionPool:
    """Sessions of one sender (or of its priority path)."""

    def __init__(
        self,
        limit: int,
        opener: Opener,
        *,
        max_messages: int = 100,
        idle_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._opener = opener
        self._limit = limit
        self._max_messages = max_messages
        self._idle_seconds = idle_seconds
        self._clock = clock
        self._slots = asyncio.Semaphore(limit)
        self._idle: list[tuple[float, str, SmtpSession]] = []
        self._open = 0
        self._closing: set[asyncio.Task[None]] = set()

    async def acquire(self, route: Route) -> SmtpSession:
        """An idle session to the route, or a new one; waits for a free slot."""
        await self._slots.acquire()
        try:
            session = self._take_idle(route.name)
            if session is not None:
                return session

            if self._open >= self._limit and self._idle:
                self._close(self._idle.pop(0)[2])
            session = await self._opener(route)
        except BaseException:
            self._slots.release()
            raise

        self._open += 1
        return session

    def release(self, session: SmtpSession, route: Route) -> None:
        """Return a session after a transaction; no await, so an outcome can be
        recorded the instant its reply is read.
        """
        self._slots.release()
        if session.alive and session.sent < self._max_messages:
            self._idle.append((self._clock(), route.name, session))
        else:
            self._close(session)

    def reap(self) -> None:
        """Close sessions idle longer than ``idle_seconds``."""
        cutoff = self._clock() - self._idle_seconds
        while self._idle and self._idle[0][0] < cutoff:
            self._close(self._idle.pop(0)[2])

    async def close(self) -> None:
        """Close every idle session and wait for the goodbyes."""
        while self._idle:
            self._close(self._idle.pop()[2])
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    def _take_idle(self, route_name: str) -> SmtpSession | None:
        for index in range(len(self._idle) - 1, -1, -1):
            _, name, session = self._idle[index]
            if name != route_name:
                continue
            del self._idle[index]
            if session.alive:
                return session
            self._close(session)
        return None

    def _close(self, session: SmtpSession) -> None:
        self._open -= 1
        task = asyncio.create_task(session.quit())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
