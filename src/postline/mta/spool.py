"""The disk spool of one sender: the API the MTA works through.

Every change (a message spooled, a SENDING mark, an outcome, a confirm) is a
journal record first and a state change second: ``_write`` appends the record
and hands it to the state (``spool_state``), the same code replay uses, so
what a restart rebuilds is what was running. Compaction (``spool_compaction``)
keeps disk use bounded.

It may touch the sender's spool directory (through the journal and the
tombstone files) and the in-memory state, queue and outbox it owns; nothing
else. Priority claims live in memory only: RabbitMQ redelivers what they
covered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from postline.bus.events import StatusEvent
from postline.bus.mail import OutboundEmail
from postline.mta.envelope import Envelope
from postline.mta.journal import SEGMENT_BYTES, Journal, ensure_directory
from postline.mta.records import ADD, OUTCOME, PUBLISHED, SENDING, Record
from postline.mta.schedule import DueQueue
from postline.mta.spool_compaction import LIVE_RATIO, Compactor
from postline.mta.spool_lock import SpoolLock
from postline.mta.spool_state import Entry, Interrupted, SpoolState
from postline.mta.tombstones import Tombstones

__all__ = ["LIVE_RATIO", "Entry", "Interrupted", "Spool"]

log = logging.getLogger(__name__)


class Spool:
    """One sender's spool under ``directory``.

    ``retention`` is how long (seconds) finished ids are kept for dedupe.
    """

    def __init__(
        self,
        directory: Path,
        *,
        retention: float,
        clock: Callable[[], float] = time.time,
        segment_bytes: int = SEGMENT_BYTES,
    ) -> None:
        self.journal = Journal(directory, segment_bytes=segment_bytes)
        self.lock = SpoolLock(directory)
        self.tombstones = Tombstones(directory, retention)
        self.queue = DueQueue(clock)
        self.events_ready = asyncio.Event()
        self._clock = clock
        self._state = SpoolState(self.tombstones, self.queue, self.events_ready)
        self._claimed: set[str] = set()
        self._compactor = Compactor(
            self.journal, self._state, self.tombstones, write=self._write, clock=clock
        )

    def open(self) -> list[Interrupted]:
        """Rebuild the state from disk; return attempts cut off after SENDING.

        The caller must finish every interrupted message; until then they are
        held out of the queue. Raises SpoolError when another process holds
        the spool (see ``spool_lock``), when the directory or a segment cannot
        be used, or a segment is damaged. The lock is held until ``close``.
        """
        ensure_directory(self.journal.directory)
        self.lock.acquire()
        try:
            self.tombstones.load(self._clock())
            interrupted = self._state.replay(self.journal.replay())
        except BaseException:
            self.lock.release()
            raise

        log.info(
            "spool_opened directory=%s pending=%d tombstones=%d outbox=%d "
            "interrupted=%d",
            self.journal.directory,
            len(self._state.entries),
            len(self.tombstones),
            len(self._state.outbox),
            len(interrupted),
        )
        return interrupted

    def close(self) -> None:
        self.queue.close()
        self.journal.close()
        self.lock.release()

    def __contains__(self, message_id: object) -> bool:
        return (
            message_id in self._state.entries
            or message_id in self.tombstones
            or message_id in self._state.sending
            or message_id in self._claimed
        )

    @property
    def pending(self) -> int:
        """Messages spooled and not finished."""
        return len(self._state.entries)

    @property
    def _entries(self) -> dict[str, Entry]:
        """Spooled messages not yet finished, by message id."""
        return self._state.entries

    # -- changes, each a journal record ------------------------------------

    def add(
        self,
        email: OutboundEmail,
        *,
        attempt: int = 0,
        due: float | None = None,
        events: Iterable[StatusEvent] = (),
    ) -> int | None:
        """Spool a message; its record number, or None if the id is known."""
        self._claimed.discard(email.message_id)
        if email.message_id in self:
            return None
        return self._add(email, attempt, self._clock() if due is None else due, events)

    def requeue(
        self, email: OutboundEmail, attempt: int, due: float, event: StatusEvent
    ) -> int:
        """Spool a message whose priority attempt failed softly, to retry at
        ``due`` (epoch seconds) on the standard path.
        """
        self._claimed.discard(email.message_id)
        return self._add(email, attempt, due, [event])

    def _add(
        self,
        email: OutboundEmail,
        attempt: int,
        due: float,
        events: Iterable[StatusEvent],
    ) -> int:
        header = {
            "env": Envelope.of(email).to_header(),
            "seq": self._state.seq,
            "att": attempt,
            "due": due,
            "snd": False,
            "ev": [e.model_dump(mode="json") for e in events],
        }
        return self._write(Record(ADD, header, email.body))

    def claim(self, message_id: str) -> bool:
        """Reserve an id for a priority attempt; False if it is already known."""
        if message_id in self:
            return False
        self._claimed.add(message_id)
        return True

    def mark_sending(self, envelope: Envelope, attempt: int) -> None:
        """Record that the final dot of ``attempt`` is about to be sent."""
        header: dict[str, Any] = {"id": envelope.message_id, "att": attempt}
        if envelope.message_id not in self._state.entries:
            header["env"] = envelope.to_header()
        self._write(Record(SENDING, header))

    def defer(
        self, message_id: str, attempt: int, due: float, event: StatusEvent
    ) -> int:
        """Record a failed attempt to retry at ``due`` (epoch seconds)."""
        header = {
            "id": message_id,
            "att": attempt,
            "fin": False,
            "due": due,
            "ev": [event.model_dump(mode="json")],
        }
        return self._write(Record(OUTCOME, header))

    def finish(
        self, message_id: str, attempt: int, events: Iterable[StatusEvent]
    ) -> int:
        """Record a final outcome; the id becomes a tombstone."""
        self._claimed.discard(message_id)
        header = {
            "id": message_id,
            "att": attempt,
            "fin": True,
            "at": self._clock(),
            "ev": [e.model_dump(mode="json") for e in events],
        }
        return self._write(Record(OUTCOME, header))

    def release(self, message_id: str) -> None:
        """Give up a priority claim that recorded nothing (RabbitMQ redelivers)."""
        self._claimed.discard(message_id)

    def confirm(self, event_ids: list[str]) -> None:
        """Record that RabbitMQ confirmed these events."""
        self._write(Record(PUBLISHED, {"ids": event_ids}))

    # -- reading -------------------------------------------------------------

    async def next_due(self) -> Entry | None:
        """The next message to send, marked in flight; None once closed."""
        message_id = await self.queue.pop(self._state.is_queued)
        if message_id is None:
            return None
        entry = self._state.entries[message_id]
        entry.in_flight = True
        return entry

    def postpone(self, entry: Entry, seconds: float) -> None:
        """Put an entry back in the queue ``seconds`` from now, in memory only:
        for when the journal cannot record its attempt.
        """
        entry.in_flight = False
        entry.due = self._clock() + seconds
        self.queue.push(entry.due, entry.seq, entry.envelope.message_id)

    def read_body(self, entry: Entry) -> bytes:
        return self.journal.read_body(
            entry.body_segment, entry.body_offset, entry.body_length
        )

    def unpublished(self, limit: int) -> list[tuple[StatusEvent, int]]:
        """Up to ``limit`` events awaiting a confirm, oldest first, with lsn."""
        batch = []
        for held in self._state.outbox.values():
            batch.append((held.event, held.lsn))
            if len(batch) >= limit:
                break
        return batch

    @property
    def outbox_size(self) -> int:
        return len(self._state.outbox)

    # -- housekeeping ----------------------------------------------------------

    async def compact(self) -> int:
        """Delete old segments that are mostly dead; returns how many.

        A segment is read in full first: one that is damaged is kept, for the
        operator, and compaction stops at it.
        """
        return await self._compactor.compact()

    def prune(self) -> int:
        """Forget tombstones past retention."""
        return self.tombstones.prune(self._clock())

    def _write(self, record: Record) -> int:
        position = self.journal.append(record)
        self._state.apply(
            record,
            position.segment,
            position.body_offset,
            len(record.body),
            position.lsn,
        )
        return position.lsn
