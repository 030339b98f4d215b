"""What one sender's spool holds in memory, rebuilt from its journal records.

Live writes and replay both change the state through ``SpoolState.apply``, so
what a restart rebuilds is what was running. The state:

- entries: spooled messages not yet finished (envelope, queue order, attempts
  made, due time, whether a final dot may have gone out, where the body is);
- tombstones: ids of finished messages, for dedupe;
- sending: priority attempts past their SENDING record, not yet finished;
- the outbox: status events journaled but not yet confirmed by RabbitMQ;
- per segment: which of the above each segment pins, and its live body bytes,
  for compaction.

This module touches memory only: it reads records handed to it, pushes onto
the due queue and adds tombstones in memory. It never writes the journal.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from postline.bus.events import StatusEvent
from postline.mta.envelope import Envelope
from postline.mta.records import ADD, OUTCOME, PUBLISHED, SENDING, Framed, Record
from postline.mta.schedule import DueQueue
from postline.mta.tombstones import Tombstones


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
class Sending:
    """A priority attempt past its SENDING record; ``segment`` holds the record."""

    envelope: Envelope
    attempt: int
    segment: int


@dataclass(slots=True)
class Held:
    """A status event awaiting RabbitMQ's confirm, with the record that holds it."""

    event: StatusEvent
    lsn: int
    segment: int


class SpoolState:
    """The in-memory state of one spool; ``tombstones`` and ``queue`` are shared
    with the spool, ``events_ready`` is set whenever an event is held.
    """

    def __init__(
        self, tombstones: Tombstones, queue: DueQueue, events_ready: asyncio.Event
    ) -> None:
        self.tombstones = tombstones
        self.queue = queue
        self.events_ready = events_ready
        self.entries: dict[str, Entry] = {}
        self.sending: dict[str, Sending] = {}
        self.outbox: dict[str, Held] = {}
        self.seq = 0
        self.seg_entries: dict[int, set[str]] = defaultdict(set)
        self.seg_sending: dict[int, set[str]] = defaultdict(set)
        self.seg_events: dict[int, set[str]] = defaultdict(set)
        self.seg_tombs: dict[int, list[tuple[str, float]]] = defaultdict(list)
        self.live_bytes: dict[int, int] = defaultdict(int)
        self._replaying = False

    def replay(self, records: Iterator[tuple[int, Framed]]) -> list[Interrupted]:
        """Rebuild from ``records`` (segment, framed record), oldest first.

        Returns the attempts cut off after SENDING, held out of the queue;
        every other entry is queued.
        """
        self._replaying = True
        for segment, framed in records:
            self.apply(
                framed.record, segment, framed.body_offset, framed.body_length, lsn=0
            )
        self._replaying = False

        interrupted = [
            Interrupted(s.envelope, s.attempt) for s in self.sending.values()
        ]
        for entry in self.entries.values():
            if entry.sending:
                entry.in_flight = True
                interrupted.append(Interrupted(entry.envelope, entry.attempt + 1))
            else:
                self.queue.push(entry.due, entry.seq, entry.envelope.message_id)
        return interrupted

    def apply(
        self, record: Record, segment: int, body_offset: int, body_length: int, lsn: int
    ) -> None:
        """Change the state as ``record``, stored in ``segment``, says."""
        header = record.header
        if record.kind == ADD:
            self._apply_add(header, segment, body_offset, body_length)
        elif record.kind == SENDING:
            self._apply_sending(header, segment)
        elif record.kind == OUTCOME:
            self._apply_outcome(header, segment)
        elif record.kind == PUBLISHED:
            for event_id in header["ids"]:
                self.outbox.pop(event_id, None)
        self._hold(header.get("ev", ()), segment, lsn)

    def is_queued(self, message_id: str, due: float) -> bool:
        """Whether a queue item (``message_id`` due at ``due``) is still current."""
        entry = self.entries.get(message_id)
        return entry is not None and not entry.in_flight and entry.due == due

    def _apply_add(
        self, header: dict[str, Any], segment: int, body_offset: int, body_length: int
    ) -> None:
        envelope = Envelope.from_header(header["env"])
        message_id = envelope.message_id
        if message_id in self.tombstones:
            return

        self.sending.pop(message_id, None)
        entry = self.entries.get(message_id)
        if entry is None:
            entry = Entry(envelope, 0, 0, 0.0, False, 0, 0, 0, 0)
            self.entries[message_id] = entry
        else:
            self.live_bytes[entry.body_segment] -= entry.body_length

        moved = entry.due != header["due"]
        entry.seq = header["seq"]
        entry.attempt = header["att"]
        entry.due = header["due"]
        entry.sending = header["snd"]
        entry.body_segment, entry.body_offset = segment, body_offset
        entry.body_length = body_length
        entry.state_segment = segment
        self.live_bytes[segment] += body_length
        self.seg_entries[segment].add(message_id)
        self.seq = max(self.seq, entry.seq + 1)

        if moved and not entry.in_flight and not self._replaying:
            self.queue.push(entry.due, entry.seq, message_id)

    def _apply_sending(self, header: dict[str, Any], segment: int) -> None:
        message_id = header["id"]
        entry = self.entries.get(message_id)
        if entry is not None:
            entry.sending = True
            entry.state_segment = segment
            self.seg_entries[segment].add(message_id)
            return

        if message_id in self.tombstones or "env" not in header:
            return
        envelope = Envelope.from_header(header["env"])
        self.sending[message_id] = Sending(envelope, header["att"], segment)
        self.seg_sending[segment].add(message_id)

    def _apply_outcome(self, header: dict[str, Any], segment: int) -> None:
        message_id = header["id"]
        if header["fin"]:
            self._drop(message_id)
            self.tombstones.add(message_id, header["at"])
            self.seg_tombs[segment].append((message_id, header["at"]))
            return

        entry = self.entries.get(message_id)
        if entry is None:
            return
        entry.attempt = header["att"]
        entry.due = header["due"]
        entry.sending = False
        entry.in_flight = False
        entry.state_segment = segment
        self.seg_entries[segment].add(message_id)
        if not self._replaying:
            self.queue.push(entry.due, entry.seq, message_id)

    def _drop(self, message_id: str) -> None:
        self.sending.pop(message_id, None)
        entry = self.entries.pop(message_id, None)
        if entry is not None:
            self.live_bytes[entry.body_segment] -= entry.body_length

    def _hold(self, events: Iterable[dict[str, Any]], segment: int, lsn: int) -> None:
        for data in events:
            event = StatusEvent.model_validate(data)
            self.outbox[event.event_id] = Held(event, lsn, segment)
            self.seg_events[segment].add(event.event_id)
            self.events_ready.set()
