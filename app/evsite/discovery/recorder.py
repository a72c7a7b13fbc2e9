"""Turns candidates into pending enrollments: once each, off the event loop, bounded.

The store calls are synchronous SQLite writes (fsync included), so they run in a
worker thread, one at a time, fed by a bounded queue: a flood of announcements
costs at most `QUEUE_SIZE` waiting candidates, never a thread per candidate.
Each (id, address) pair is offered to the store once per run; the memory of
those pairs is capped (least recently seen dropped first).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable

from evsite.discovery.candidates import Candidate
from evsite.discovery.counters import Counters
from evsite.store.audit import AuditSink

log = logging.getLogger("evsite.discovery")
QUEUE_SIZE = 64

NotePending = Callable[[str, str, str], bool]
IsEnrolled = Callable[[str], bool]


class CandidateRecorder:
    """Offers each new candidate to the pending list, unless that station is enrolled."""

    def __init__(
        self,
        *,
        note_pending: NotePending,
        is_enrolled: IsEnrolled,
        audit: AuditSink,
        max_known: int,
    ) -> None:
        self._note_pending = note_pending
        self._is_enrolled = is_enrolled
        self._audit = audit
        self._max_known = max_known
        self._known: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._queue: asyncio.Queue[Candidate] = asyncio.Queue(QUEUE_SIZE)
        self._task: asyncio.Task[None] | None = None
        self.counters = Counters(
            "offered", "repeated", "dropped", "enrolled", "pending_new", "pending_seen", "errors"
        )

    def start(self) -> None:
        """Start the worker (on the running loop)."""
        if self._task is None:
            self._task = asyncio.create_task(self._work(), name="discovery-recorder")

    async def stop(self) -> None:
        """Stop the worker; candidates still queued are dropped."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    @property
    def known(self) -> int:
        """How many (id, address) pairs are remembered."""
        return len(self._known)

    def offer(self, candidate: Candidate) -> None:
        """Queue a candidate unless it was offered before; never blocks, never raises."""
        key = (candidate.station_id, candidate.address)
        if key in self._known:
            self._known.move_to_end(key)
            self.counters.inc("repeated")
            return
        try:
            self._queue.put_nowait(candidate)
        except asyncio.QueueFull:
            self.counters.inc("dropped")  # seen again at the next browse or search
            return
        self.counters.inc("offered")
        self._remember(key)

    def _remember(self, key: tuple[str, str]) -> None:
        self._known[key] = None
        while len(self._known) > self._max_known:
            self._known.popitem(last=False)

    async def drained(self) -> None:
        """Wait until every queued candidate has been handled (for tests and shutdown)."""
        await self._queue.join()

    async def _work(self) -> None:
        while True:
            candidate = await self._queue.get()
            try:
                outcome = await asyncio.to_thread(self._record, candidate)
                self.counters.inc(outcome)
            except Exception:
                self.counters.inc("errors")
                # Forget it, so that the next sighting tries again.
                self._known.pop((candidate.station_id, candidate.address), None)
                log.exception("discovered station %r not recorded", candidate.station_id)
            finally:
                self._queue.task_done()

    def _record(self, candidate: Candidate) -> str:
        """Runs in a worker thread (the store and the audit log are thread-safe)."""
        if self._is_enrolled(candidate.station_id):
            return "enrolled"
        if not self._note_pending(candidate.station_id, candidate.address, candidate.source):
            return "pending_seen"
        log.info(
            "discovered station %r at %s over %s",
            candidate.station_id,
            candidate.address,
            candidate.source,
        )
        self._audit.record(
            "station.discovered",
            actor=candidate.station_id,
            source=candidate.address,
            outcome="pending",
            detail={"via": candidate.source, **candidate.detail},
        )
        return "pending_new"
