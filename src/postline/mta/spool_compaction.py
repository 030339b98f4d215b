"""Compaction of one sender's spool: keeps its disk use bounded.

When the oldest segment is mostly dead (or when dead segments behind it
outweigh twice the live data), the live records it pins are written again at
the head of the journal (messages with their state and body, unconfirmed
events, open SENDING marks), its tombstones are archived, and the segment is
deleted. A segment that does not read back in full is never deleted.

It may touch the journal (read, verify, delete the oldest segment, wait for an
fsync), the tombstone day files, and the per-segment indexes of the spool's
state; every record it writes goes through the spool's ``write``, so the state
follows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from postline.errors import SpoolError
from postline.mta.journal import Journal
from postline.mta.records import ADD, EVENT, SENDING, Record
from postline.mta.spool_state import Entry, SpoolState
from postline.mta.tombstones import Tombstones

log = logging.getLogger(__name__)

# Compact the oldest segment once no more than this share of it is live bodies.
LIVE_RATIO = 0.5


class Compactor:
    """Deletes a spool's old segments once what they pin is written again.

    ``write`` journals a record and applies it to ``state``, returning its lsn;
    ``clock`` gives epoch seconds.
    """

    def __init__(
        self,
        journal: Journal,
        state: SpoolState,
        tombstones: Tombstones,
        *,
        write: Callable[[Record], int],
        clock: Callable[[], float],
    ) -> None:
        self._journal = journal
        self._state = state
        self._tombstones = tombstones
        self._write = write
        self._clock = clock
        self._damaged: set[int] = set()

    async def compact(self) -> int:
        """Delete old segments that are mostly dead; returns how many.

        A segment is read in full first: one that is damaged is kept, for the
        operator, and compaction stops at it.
        """
        removed = 0
        while len(segments := self._journal.segments()) > 1:
            oldest = segments[0]
            if oldest in self._damaged or not self._worth_compacting(oldest, segments):
                break
            if not await self._readable_in_full(oldest):
                break

            lsn = self._restate(oldest)
            tombs = self._state.seg_tombs.pop(oldest, [])
            await asyncio.to_thread(self._tombstones.archive, tombs, self._clock())
            await self._journal.durable(lsn)
            self._journal.delete(oldest)
            self._state.live_bytes.pop(oldest, None)
            removed += 1
        return removed

    async def _readable_in_full(self, segment: int) -> bool:
        try:
            await asyncio.to_thread(self._journal.verify, segment)
        except SpoolError as exc:
            self._damaged.add(segment)
            log.error(
                "spool_segment_damaged directory=%s segment=%d action=kept error=%s",
                self._journal.directory,
                segment,
                exc,
            )
            return False
        return True

    def _worth_compacting(self, oldest: int, segments: list[int]) -> bool:
        """The oldest segment is mostly dead, or, live as it is, it holds up
        dead segments behind it worth more than the live data twice over.
        """
        live_bytes = self._state.live_bytes
        if live_bytes[oldest] <= self._journal.size(oldest) * LIVE_RATIO:
            return True
        on_disk = sum(self._journal.size(s) for s in segments)
        live = sum(live_bytes.values())
        return on_disk > 2 * live + self._journal.segment_bytes

    def _restate(self, segment: int) -> int:
        state = self._state
        lsn = 0
        for message_id in state.seg_entries.pop(segment, set()):
            entry = state.entries.get(message_id)
            if entry and segment in (entry.body_segment, entry.state_segment):
                body = self._journal.read_body(
                    entry.body_segment, entry.body_offset, entry.body_length
                )
                lsn = self._write(Record(ADD, _entry_header(entry), body))

        for message_id in state.seg_sending.pop(segment, set()):
            sending = state.sending.get(message_id)
            if sending and sending.segment == segment:
                header = {
                    "id": message_id,
                    "att": sending.attempt,
                    "env": sending.envelope.to_header(),
                }
                lsn = self._write(Record(SENDING, header))

        held = [
            state.outbox[event_id].event
            for event_id in state.seg_events.pop(segment, set())
            if event_id in state.outbox and state.outbox[event_id].segment == segment
        ]
        if held:
            events = [e.model_dump(mode="json") for e in held]
            lsn = self._write(Record(EVENT, {"ev": events}))
        return lsn


def _entry_header(entry: Entry) -> dict[str, Any]:
    return {
        "env": entry.envelope.to_header(),
        "seq": entry.seq,
        "att": entry.attempt,
        "due": entry.due,
        "snd": entry.sending,
        "ev": [],
    }
