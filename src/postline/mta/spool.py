"""The disk spool of one sender: messages waiting, outcomes, and the outbox.

Every change is a journal record first and a state change second, through
one ``_apply`` that replay uses too, so what a restart rebuilds is what was
running. The state:

- entries: spooled messages not yet finished (envelope, queue order, attempts
  made, due time, whether a final dot may have gone out, where the body is);
- tombstones: ids of finished messages, for dedupe;
- sending: priority attempts past their SENDING record, not yet finished;
- the outbox: status events journaled but not yet confirmed by RabbitMQ.

Compaction keeps disk use bounded: when the oldest segment is mostly dead (or
when dead segments behind it outweigh twice the live data), the live records
it pins are written again at the head of the journal (messages with their
state and body, unconfirmed events, open SENDING marks), its tombstones are
archived, and the segment is deleted. A segment that does not read back in
full is never deleted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from postline.bus.events import StatusEvent
from postline.bus.mail import OutboundEmail
from postline.errors import SpoolError
from postline.mta.envelope import Envelope
from postline.mta.journal import SEGMENT_BYTES, Journal, ensure_directory
from postline.mta.records import ADD, EVENT, OUTCOME, PUBLISHED, SENDING, Record
from postline.mta.schedule import DueQueue
from postline.mta.tombstones import Tombstones

log = logging.getLogger(__name__)

# Compact the oldest segment once no more than this share of it is live bodies.
LIVE_RATIO = 0.5


@dataclass(slots=True)
class Entry:
    """A spooled message. ``attempt`` counts attempts made; times are epoch s."""

    envelope: Envelope
    seq: int
    attempt: int
    due: float
    sending: bool
    body_segment: int
    body_offset: int
    body_length: int
    state_segment: int
    in_flight: bool = False


@dataclass(frozen=True, slots=True)
class Interrupted:
    """A message whose final dot may have been sent when the process stopped."""

    envelope: Envelope
    attempt: int


@dataclass(slots=True)
class _Sending:
    envelope: Envelope
    attempt: int
    segment: int


@dataclass(slots=True)
class _Held:
    event: StatusEvent
    lsn: int
    segment: int


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
        self.tombstones = Tombstones(directory, retention)
        self.queue = DueQueue(clock)
        self.events_ready = asyncio.Event()
        self._clock = clock
        self._entries: dict[str, Entry] = {}
        self._sending: dict[str, _Sending] = {}
        self._claimed: set[str] = set()
        self._outbox: dict[str, _Held] = {}
        self._seq = 0
        self._seg_entries: dict[int, set[str]] = defaultdict(set)
        self._seg_sending: dict[int, set[str]] = defaultdict(set)
        self._seg_events: dict[int, set[str]] = defaultdict(set)
        self._seg_tombs: dict[int, list[tuple[str, float]]] = defaultdict(list)
        self._live_bytes: dict[int, int] = defaultdict(int)
        self._damaged: set[int] = set()
        self._replaying = False

    def open(self) -> list[Interrupted]:
        """Rebuild the state from disk; return attempts cut off after SENDING.

        The caller must finish every interrupted message; until then they are
        held out of the queue. Raises SpoolError when the directory or a
        segment cannot be used, or a segment is damaged.
        """
        ensure_directory(self.journal.directory)
        self.tombstones.load(self._clock())
        self._replaying = True
        for segment, framed in self.journal.replay():
            self._apply(
                framed.record, segment, framed.body_offset, framed.body_length, lsn=0
            )
        self._replaying = False

        interrupted = [
            Interrupted(s.envelope, s.attempt) for s in self._sending.values()
        ]
        for entry in self._entries.values():
            if entry.sending:
                entry.in_flight = True
                interrupted.append(Interrupted(entry.envelope, entry.attempt + 1))
            else:
                self.queue.push(entry.due, entry.seq, entry.envelope.message_id)

        log.info(
            "spool_opened directory=%s pending=%d tombstones=%d outbox=%d "
            "interrupted=%d",
            self.journal.directory,
            len(self._entries),
            len(self.tombstones),
            len(self._outbox),
            len(interrupted),
        )
        return interrupted

    def close(self) -> None:
        self.queue.close()
        self.journal.close()

    def __contains__(self, message_id: object) -> bool:
        return (
            message_id in self._entries
            or message_id in self.tombstones
            or message_id in self._sending
            or message_id in self._claimed
        )

    @property
    def pending(self) -> int:
        """Messages spooled and not finished."""
        return len(self._entries)

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
            "seq": self._seq,
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
        if envelope.message_id not in self._entries:
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
        message_id = await self.queue.pop(self._is_queued)
        if message_id is None:
            return None
        entry = self._entries[message_id]
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
        for held in self._outbox.values():
            batch.append((held.event, held.lsn))
            if len(batch) >= limit:
                break
        return batch

    @property
    def outbox_size(self) -> int:
        return len(self._outbox)

    # -- compaction ------------------------------------------------------------

    async def compact(self) -> int:
        """Delete old segments that are mostly dead; returns how many.

        A segment is read in full first: one that is damaged is kept, for the
        operator, and compaction stops at it.
        """
        removed = 0
        while len(segments := self.journal.segments()) > 1:
            oldest = segments[0]
            if oldest in self._damaged or not self._worth_compacting(oldest, segments):
                break
            if not await self._readable_in_full(oldest):
                break

            lsn = self._restate(oldest)
            tombs = self._seg_tombs.pop(oldest, [])
            await asyncio.to_thread(self.tombstones.archive, tombs, self._clock())
            await self.journal.durable(lsn)
            self.journal.delete(oldest)
            self._live_bytes.pop(oldest, None)
            removed += 1
        return removed

    async def _readable_in_full(self, segment: int) -> bool:
        try:
            await asyncio.to_thread(self.journal.verify, segment)
        except SpoolError as exc:
            self._damaged.add(segment)
            log.error(
                "spool_segment_damaged directory=%s segment=%d action=kept error=%s",
                self.journal.directory,
                segment,
                exc,
            )
            return False
        return True

    def _worth_compacting(self, oldest: int, segments: list[int]) -> bool:
        """The oldest segment is mostly dead, or, live as it is, it holds up
        dead segments behind it worth more than the live data twice over.
        """
        if self._live_bytes[oldest] <= self.journal.size(oldest) * LIVE_RATIO:
            return True
        on_disk = sum(self.journal.size(s) for s in segments)
        live = sum(self._live_bytes.values())
        return on_disk > 2 * live + self.journal.segment_bytes

    def prune(self) -> int:
        """Forget tombstones past retention."""
        return self.tombstones.prune(self._clock())

    def _restate(self, segment: int) -> int:
        lsn = 0
        for message_id in self._seg_entries.pop(segment, set()):
            entry = self._entries.get(message_id)
            if entry and segment in (entry.body_segment, entry.state_segment):
                lsn = self._write(
                    Record(ADD, self._entry_header(entry), self.read_body(entry))
                )

        for message_id in self._seg_sending.pop(segment, set()):
            sending = self._sending.get(message_id)
            if sending and sending.segment == segment:
                header = {
                    "id": message_id,
                    "att": sending.attempt,
                    "env": sending.envelope.to_header(),
                }
                lsn = self._write(Record(SENDING, header))

        held = [
            self._outbox[event_id].event
            for event_id in self._seg_events.pop(segment, set())
            if event_id in self._outbox and self._outbox[event_id].segment == segment
        ]
        if held:
            events = [e.model_dump(mode="json") for e in held]
            lsn = self._write(Record(EVENT, {"ev": events}))
        return lsn

    def _entry_header(self, entry: Entry) -> dict[str, Any]:
        return {
            "env": entry.envelope.to_header(),
            "seq": entry.seq,
            "att": entry.attempt,
            "due": entry.due,
            "snd": entry.sending,
            "ev": [],
        }

    # -- state changes, shared by live writes and replay -----------------------

    def _write(self, record: Record) -> int:
        position = self.journal.append(record)
        self._apply(
            record,
            position.segment,
            position.body_offset,
            len(record.body),
            position.lsn,
        )
        return position.lsn

    def _apply(
        self, record: Record, segment: int, body_offset: int, body_length: int, lsn: int
    ) -> None:
        header = record.header
        if record.kind == ADD:
            self._apply_add(header, segment, body_offset, body_length)
        elif record.kind == SENDING:
            self._apply_sending(header, segment)
        elif record.kind == OUTCOME:
            self._apply_outcome(header, segment)
        elif record.kind == PUBLISHED:
            for event_id in header["ids"]:
                self._outbox.pop(event_id, None)
        self._hold(header.get("ev", ()), segment, lsn)

    def _apply_add(
        self, header: dict[str, Any], segment: int, body_offset: int, body_length: int
    ) -> None:
        envelope = Envelope.from_header(header["env"])
        message_id = envelope.message_id
        if message_id in self.tombstones:
            return

        self._sending.pop(message_id, None)
        entry = self._entries.get(message_id)
        if entry is None:
            entry = Entry(envelope, 0, 0, 0.0, False, 0, 0, 0, 0)
            self._entries[message_id] = entry
        else:
            self._live_bytes[entry.body_segment] -= entry.body_length

        moved = entry.due != header["due"]
        entry.seq = header["seq"]
        entry.attempt = header["att"]
        entry.due = header["due"]
        entry.sending = header["snd"]
        entry.body_segment, entry.body_offset = segment, body_offset
        entry.body_length = body_length
        entry.state_segment = segment
        self._live_bytes[segment] += body_length
        self._seg_entries[segment].add(message_id)
        self._seq = max(self._seq, entry.seq + 1)

        if moved and not entry.in_flight and not self._replaying:
            self.queue.push(entry.due, entry.seq, message_id)

    def _apply_sending(self, header: dict[str, Any], segment: int) -> None:
        message_id = header["id"]
        entry = self._entries.get(message_id)
        if entry is not None:
            entry.sending = True
            entry.state_segment = segment
            self._seg_entries[segment].add(message_id)
            return

        if message_id in self.tombstones or "env" not in header:
            return
        envelope = Envelope.from_header(header["env"])
        self._sending[message_id] = _Sending(envelope, header["att"], segment)
        self._seg_sending[segment].add(message_id)

    def _apply_outcome(self, header: dict[str, Any], segment: int) -> None:
        message_id = header["id"]
        if header["fin"]:
            self._drop(message_id)
            self.tombstones.add(message_id, header["at"])
            self._seg_tombs[segment].append((message_id, header["at"]))
            return

        entry = self._entries.get(message_id)
        if entry is None:
            return
        entry.attempt = header["att"]
        entry.due = header["due"]
        entry.sending = False
        entry.in_flight = False
        entry.state_segment = segment
        self._seg_entries[segment].add(message_id)
        if not self._replaying:
            self.queue.push(entry.due, entry.seq, message_id)

    def _drop(self, message_id: str) -> None:
        self._sending.pop(message_id, None)
        entry = self._entries.pop(message_id, None)
        if entry is not None:
            self._live_bytes[entry.body_segment] -= entry.body_length

    def _hold(self, events: Iterable[dict[str, Any]], segment: int, lsn: int) -> None:
        for data in events:
            event = StatusEvent.model_validate(data)
            self._outbox[event.event_id] = _Held(event, lsn, segment)
            self._seg_events[segment].add(event.event_id)
            self.events_ready.set()

    def _is_queued(self, message_id: str, due: float) -> bool:
        entry = self._entries.get(message_id)
        return entry is not None and not entry.in_flight and entry.due == due
