"""One upstream identity: its link, whether to journal, and the in-order replay of its outbox.

Replay sends journaled messages one at a time, oldest first, rewriting
transaction ids the CSMS has assigned since they were queued. The answer of a
StartTransaction (the CSMS's id) is on disk before the next message goes; other
answers are recorded by group commit, at most MAX_UNRECORDED behind. After a
crash those few are re-sent with their original unique ids (see docs/uplink.md
on de-duplication); a message whose answer was recorded is never re-sent.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import sqlite3
from collections.abc import Awaitable, Callable

from evsite.ocpp.frames import CallError, CallResult
from evsite.store.commit import Writer
from evsite.uplink.link import UpstreamLink
from evsite.uplink.outbox import Entry, Outbox
from evsite.uplink.settings import GroupSettings, UplinkSettings
from evsite.uplink.txmap import TxMap, rewrite_call

log = logging.getLogger("evsite.uplink")
MAX_UNRECORDED = 8
BATCH = 200

AnswerHook = Callable[[Entry, CallResult], Awaitable[None]]


class Channel:
    """The upstream side of one identity (a station, or the controller itself)."""

    def __init__(
        self,
        identity: str,
        group: GroupSettings,
        link: UpstreamLink,
        outbox: Outbox,
        txmap: TxMap,
        writer: Writer,
        settings: UplinkSettings,
        on_answer: AnswerHook,
    ) -> None:
        self.identity = identity
        self.group = group
        self.link = link
        self._outbox = outbox
        self._txmap = txmap
        self._writer = writer
        self._settings = settings
        self._on_answer = on_answer
        # False after the CSMS let a request time out; true again at its next answer.
        self.responsive = True
        self._wake = asyncio.Event()
        self._drainer: asyncio.Task[None] | None = None
        self.station_connected = False
        self.replayed = 0
        self.idle_listeners: list[Callable[[Channel], None]] = []
        link.listeners.append(self._link_changed)

    @property
    def available(self) -> bool:
        """The CSMS is reachable and answering."""
        return self.link.online.is_set() and self.responsive

    def must_journal(self) -> bool:
        """A journalable message must be queued (link down, or older ones still waiting)."""
        if self._outbox.pending_count(self.identity) > 0:
            return True
        # A link still making its first attempt is worth waiting for (within the timeout).
        return not self.available and not self.link.first_attempt_pending

    def start(self) -> None:
        """Bring the link up and start the replayer."""
        self.link.start()
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(
                self._drain_forever(), name=f"replay-{self.identity}"
            )
        self.kick()

    async def stop(self) -> None:
        """Stop replaying and close the link."""
        drainer, self._drainer = self._drainer, None
        if drainer is not None:
            drainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drainer
        await self.link.stop()

    @property
    def running(self) -> bool:
        """Started and not stopped."""
        return self._drainer is not None and not self._drainer.done()

    def kick(self) -> None:
        """Something was journaled, or the link came up: look at the outbox."""
        self._wake.set()

    def _link_changed(self, online: bool) -> None:
        if online:
            self.responsive = True
            self.kick()

    async def send_live(self, unique_id: str, frame: str) -> CallResult | CallError:
        """Relay one request now; TimeoutError or ConnectionError when the CSMS cannot answer."""
        try:
            async with asyncio.timeout(self._settings.upstream_timeout):
                if not self.link.online.is_set():
                    if not self.link.first_attempt_pending:
                        raise ConnectionError(f"{self.identity}: CSMS link is down")
                    await self.link.settled.wait()
                    if not self.link.online.is_set():
                        raise ConnectionError(f"{self.identity}: CSMS link did not come up")
                answer = await self.link.request(unique_id, frame, self._settings.upstream_timeout)
        except TimeoutError:
            self.responsive = False
            raise
        self.responsive = True
        return answer

    def upstream_frame(self, entry_frame: str, station_tx: int | None) -> str | None:
        """The frame as the CSMS must see it; None while the CSMS has no id for its transaction."""
        if station_tx is None:
            return entry_frame
        link = self._txmap.by_station_tx(self.identity, station_tx)
        if link is None:
            return entry_frame  # a transaction evsite did not map (e.g. from standalone days)
        if link.csms_tx is None:
            return None
        if link.csms_tx == station_tx:
            return entry_frame
        return rewrite_call(entry_frame, link.csms_tx)

    async def _drain_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.link.online.is_set() and self._outbox.pending_count(self.identity):
                try:
                    await self._drain()
                except Exception:
                    log.exception("%s: replay failed", self.identity)
            if not self._outbox.pending_count(self.identity):
                for listener in self.idle_listeners:
                    listener(self)

    async def _drain(self) -> None:
        marks: collections.deque[asyncio.Future[None]] = collections.deque()
        last = 0
        try:
            while self.link.online.is_set():
                batch = self._outbox.next_batch(self.identity, last, BATCH)
                if not batch:
                    break
                for entry in batch:
                    while len(marks) >= MAX_UNRECORDED:
                        await marks.popleft()
                    if not await self._replay_one(entry, marks):
                        return
                    last = entry.seq
        finally:
            for mark in marks:
                await mark

    async def _replay_one(
        self, entry: Entry, marks: collections.deque[asyncio.Future[None]]
    ) -> bool:
        frame = self.upstream_frame(entry.frame, entry.station_tx)
        if frame is None:
            # Its StartTransaction was refused by the CSMS: no id will ever come.
            log.warning(
                "%s: %s %s refers to a transaction the CSMS never numbered; sent as is",
                self.identity,
                entry.action,
                entry.unique_id,
            )
            frame = entry.frame
        try:
            answer = await self.link.request(entry.unique_id, frame, self._settings.replay_timeout)
        except TimeoutError:
            log.warning("%s: CSMS did not answer replayed %s", self.identity, entry.unique_id)
            self.responsive = False
            await self.link.reconnect()  # a CSMS that swallows a request gets a fresh connection
            return False
        except ConnectionError:
            return False
        self.responsive = True
        self.replayed += 1
        if isinstance(answer, CallError):
            log.warning(
                "%s: CSMS refused replayed %s %s: %s %s",
                self.identity,
                entry.action,
                entry.unique_id,
                answer.code,
                answer.description,
            )
        csms_tx = _started_id(entry, answer)

        def record(conn: sqlite3.Connection) -> None:
            self._outbox.delete_sql(conn, entry.seq)
            if csms_tx is not None and entry.local_tx is not None:
                self._txmap.set_csms_sql(conn, self.identity, entry.local_tx, csms_tx)

        if csms_tx is not None:
            # Later messages of this transaction are rewritten with this id: on disk first.
            await self._writer.write(record)
            self._outbox.removed(self.identity)
        else:
            marks.append(asyncio.ensure_future(self._record_later(record)))
        if isinstance(answer, CallResult):
            await self._on_answer(entry, answer)
        return True

    async def _record_later(self, record: Callable[[sqlite3.Connection], None]) -> None:
        await self._writer.write(record)
        self._outbox.removed(self.identity)


def _started_id(entry: Entry, answer: CallResult | CallError) -> int | None:
    if entry.action != "StartTransaction" or not isinstance(answer, CallResult):
        return None
    value = answer.payload.get("transactionId")
    return value if isinstance(value, int) and not isinstance(value, bool) else None
