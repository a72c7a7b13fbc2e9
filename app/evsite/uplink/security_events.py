"""evsite's own audit records, sent to the CSMS as SecurityEventNotification.

They go through the controller's own upstream identity. Records are copied
from the audit log into the outbox together with a cursor (the last audit
sequence number copied) in one transaction, so a crash neither loses nor
doubles one; each carries the unique id `evs-audit-<seq>`, stable across
re-sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import Callable

from evsite.store.audit import AuditLog, AuditRecord
from evsite.store.commit import Writer
from evsite.store.db import Database
from evsite.uplink.outbox import Outbox

log = logging.getLogger("evsite.uplink")
CURSOR_KEY = "audit_cursor"
MAX_TECH_INFO = 255
BATCH = 200

# Audit events with a type of their own in the OCPP 1.6 security whitepaper.
OCPP_TYPES = {
    "startup": "StartupOfTheDevice",
    "uplink.certificate_rejected": "InvalidCentralSystemCertificate",
    "uplink.tls_rejected": "InvalidTLSVersion",
    "uplink.auth_failed": "FailedToAuthenticateAtCentralSystem",
    "uplink.profile_raised": "ReconfigurationOfSecurityParameters",
    "uplink.key_changed": "ReconfigurationOfSecurityParameters",
    "firmware.installed": "FirmwareUpdated",
    "update.installed": "FirmwareUpdated",
    "factory_reset": "SecurityLogWasCleared",
    "reboot": "ResetOrReboot",
    "station.auth_failed": "InvalidChargePointCertificate",
}


def notification_for(record: AuditRecord) -> dict[str, object]:
    """The SecurityEventNotification payload of one audit record."""
    kind = record.detail.get("type") if record.event.startswith("uplink.") else None
    tech = json.dumps(
        {
            "event": record.event,
            "actor": record.actor,
            "source": record.source,
            "outcome": record.outcome,
            "seq": record.seq,
        },
        separators=(",", ":"),
    )
    return {
        "type": str(kind or OCPP_TYPES.get(record.event, record.event))[:50],
        "timestamp": record.time,
        "techInfo": tech[:MAX_TECH_INFO],
    }


def frame_for(record: AuditRecord) -> tuple[str, str]:
    """(unique id, CALL frame) of one record's notification."""
    unique_id = f"evs-audit-{record.seq}"
    frame = json.dumps(
        [2, unique_id, "SecurityEventNotification", notification_for(record)],
        separators=(",", ":"),
    )
    return unique_id, frame


class SecurityEventForwarder:
    """Copies new audit records into the controller identity's outbox."""

    def __init__(
        self,
        audit: AuditLog,
        db: Database,
        writer: Writer,
        outbox: Outbox,
        identity: str,
        exclude: tuple[str, ...],
    ) -> None:
        self._audit = audit
        self._db = db
        self._writer = writer
        self._outbox = outbox
        self._identity = identity
        self._exclude = exclude
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self.on_queued: list[Callable[[], None]] = []

    def cursor(self) -> int | None:
        """The last audit sequence number copied (None before the first start)."""
        row = self._db.query_one("SELECT value FROM uplink_state WHERE key=?", (CURSOR_KEY,))
        return int(row[0]) if row else None

    async def start(self) -> None:
        """Start following the audit log (from its current end on the very first start)."""
        self._loop = asyncio.get_running_loop()
        if self.cursor() is None:
            newest = next(iter(self._audit.records(newest_first=True, limit=1)), None)
            start = newest.seq if newest else 0
            await self._writer.write(lambda conn: self._set_cursor(conn, start))
        self._audit.subscribe(self._on_record)
        self._task = asyncio.create_task(self._follow())
        self._wake.set()

    async def stop(self) -> None:
        """Stop following."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _on_record(self, record: AuditRecord) -> None:
        # The audit log may be written from web worker threads: hop onto the loop.
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    def _set_cursor(self, conn: sqlite3.Connection, seq: int) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO uplink_state(key, value) VALUES (?, ?)", (CURSOR_KEY, str(seq))
        )

    def _excluded(self, event: str) -> bool:
        return any(event.startswith(prefix) for prefix in self._exclude)

    async def _follow(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                while await self.copy_new():
                    pass
            except Exception:
                log.exception("forwarding audit records failed")

    async def copy_new(self) -> int:
        """Copy records newer than the cursor into the outbox; return how many were queued."""
        cursor = self.cursor() or 0
        fresh: list[AuditRecord] = []
        # AuditLog offers no "after seq" read yet: walk back from the newest to the cursor.
        for record in self._audit.records(newest_first=True):
            if record.seq <= cursor:
                break
            fresh.append(record)
        fresh.reverse()
        fresh = fresh[:BATCH]
        if not fresh:
            return 0
        wanted = [r for r in fresh if not self._excluded(r.event)]

        def write(conn: sqlite3.Connection) -> None:
            for record in wanted:
                unique_id, frame = frame_for(record)
                self._outbox.insert_sql(
                    conn, self._identity, unique_id, "SecurityEventNotification", frame
                )
            self._set_cursor(conn, fresh[-1].seq)

        await self._writer.write(write)
        self._outbox.added(self._identity, len(wanted))
        for callback in self.on_queued:
            callback()
        return len(fresh)
