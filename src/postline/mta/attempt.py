"""One delivery attempt: route the domain, take a session, run the transaction.

Every failure comes back as a reply, so the caller judges one thing: a remote
reply, a local one the MTA made up (``local``), or a reply to a final dot that
never came (``unknown``). Nothing is awaited after the reply is read, so the
caller can journal the outcome before anything else runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from postline.errors import DeliveryError, OutcomeUnknownError, UnroutableError
from postline.mta.envelope import Envelope
from postline.mta.reply import Reply
from postline.mta.routing import Router
from postline.mta.sessions import SessionPool


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """The reply of one attempt; ``elapsed`` in seconds."""

    reply: Reply
    route: str
    elapsed: float
    unknown: bool = False


class Deliverer:
    """Runs attempts for one sender through its router and session pool."""

    def __init__(self, router: Router, pool: SessionPool) -> None:
        self._router = router
        self._pool = pool

    async def attempt(
        self, envelope: Envelope, body: bytes, before_final: Callable[[], None]
    ) -> AttemptResult:
        started = time.monotonic()

        def result(reply: Reply, route: str, unknown: bool = False) -> AttemptResult:
            return AttemptResult(reply, route, time.monotonic() - started, unknown)

        try:
            route = await self._router.route(envelope.domain)
        except UnroutableError as exc:
            # An authoritative answer, not our failure: judged like a remote 5xx.
            return result(Reply.parse(str(exc)), "-")
        except DeliveryError as exc:
            return result(Reply.parse(str(exc), local=True), "-")

        try:
            session = await self._pool.acquire(route)
        except DeliveryError as exc:
            return result(Reply.parse(str(exc), local=True), route.name)

        try:
            reply = await session.send(
                envelope.mail_from, envelope.rcpt_to, body, before_final
            )
        except OutcomeUnknownError as exc:
            return result(Reply.parse(str(exc), local=True), route.name, unknown=True)
        except DeliveryError as exc:
            return result(Reply.parse(str(exc), local=True), route.name)
        except BaseException:
            # Cancelled mid-transaction: a late reply must not reach the next one.
            session.abort()
            raise
        finally:
            self._pool.release(session, route)
        return result(reply, route.name)
