"""``serve_mta``: the built-in MTA for every built-in sender, until told to stop.

Start order matters: each sender's spool is opened and its interrupted
attempts settled before its queues are consumed, so a message RabbitMQ
redelivers after a crash meets the tombstone of its first delivery.
Stop order is the reverse: stop consuming, let attempts finish, publish the
outbox, flush the journal.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import SQLAlchemyError

from postline.bus.topology import connect, declare_events, open_channel
from postline.errors import NotFoundError
from postline.mta.intake import Intake
from postline.mta.outbox import amqp_sink
from postline.mta.routing import Router
from postline.mta.sender import STOP_GRACE, SenderMta
from postline.senders import Sender, load_senders
from postline.settings import Settings
from postline.store.db import make_engine
from postline.store.failures import translate

log = logging.getLogger(__name__)


async def serve_mta(
    settings: Settings, stop: asyncio.Event, *, sender_ids: list[int] | None = None
) -> None:
    """Run the MTA for the built-in senders (or those named) until ``stop``."""
    senders = await _senders(settings, sender_ids)
    connection = await connect(settings.amqp_url)
    mtas: list[SenderMta] = []
    intakes: list[Intake] = []
    try:
        channel = await open_channel(connection)
        sink = amqp_sink(await declare_events(channel))
        router = Router(settings.smtp_routes)
        for sender in senders:
            mta = SenderMta(sender, settings, sink, router=router)
            await mta.start()
            mtas.append(mta)
            intake = Intake(connection, mta)
            await intake.start()
            intakes.append(intake)

        log.info("mta_started senders=%s", ",".join(str(s.id) for s in senders))
        await stop.wait()
    finally:
        for intake in intakes:
            await intake.stop(STOP_GRACE)
        for mta in mtas:
            await mta.stop()
        await connection.close()
        log.info("mta_stopped senders=%d", len(mtas))


async def _senders(settings: Settings, sender_ids: list[int] | None) -> list[Sender]:
    engine = make_engine(settings.database_url)
    try:
        senders = await load_senders(engine)
    except (SQLAlchemyError, OSError) as exc:
        raise translate(exc, "cannot read the senders") from exc
    finally:
        await engine.dispose()

    if sender_ids is None:
        return senders
    chosen = [s for s in senders if s.id in sender_ids]
    missing = sorted(set(sender_ids) - {s.id for s in chosen})
    if missing:
        # Serving nothing quietly would look like a stalled MTA.
        raise NotFoundError(
            f"no built-in sender with id {', '.join(map(str, missing))}; "
            f"known: {', '.join(str(s.id) for s in senders) or 'none'}"
        )
    return chosen
