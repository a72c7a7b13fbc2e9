"""The outbox: messages for a CSMS that could not be delivered yet, journaled durably in order.

A row is written (SQLite, synchronous=FULL) before the station gets its local
answer, and deleted in the same transaction that records the CSMS's answer
(and, for a StartTransaction, the CSMS's transaction id). A row keeps the
station's unique id and exact frame, so a message the CSMS may already have
seen (sent, answer lost) is re-sent with the same id and can be recognised.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass

from evsite.clock import Clock, iso_utc
from evsite.store.commit import Writer
from evsite.store.db import Database


@dataclass(frozen=True)
class Entry:
    """One journaled message."""

    seq: int
    identity: str
    unique_id: str
    action: str
    frame: str
    station_tx: int | None
    local_tx: int | None


class Outbox:
    """The uplink_outbox table, with per-identity counts kept in memory for the hot path."""

    def __init__(self, db: Database, writer: Writer, clock: Clock) -> None:
        self._db = db
        self._writer = writer
        self._clock = clock
        self._counts: Counter[str] = Counter(
            {
                str(r[0]): int(r[1])
                for r in db.query("SELECT identity, count(*) FROM uplink_outbox GROUP BY identity")
            }
        )

    def pending_count(self, identity: str | None = None) -> int:
        """How many messages wait (for one identity, or in all)."""
        if identity is None:
            return sum(self._counts.values())
        return self._counts.get(identity, 0)

    def identities(self) -> list[str]:
        """Identities that have messages waiting."""
        return sorted(i for i, n in self._counts.items() if n > 0)

    def insert_sql(
        self,
        conn: sqlite3.Connection,
        identity: str,
        unique_id: str,
        action: str,
        frame: str,
        station_tx: int | None = None,
        local_tx: int | None = None,
    ) -> int:
        """Journal one message inside a caller's transaction; call added() once committed."""
        cur = conn.execute(
            "INSERT INTO uplink_outbox(identity, unique_id, action, frame, station_tx, local_tx,"
            " queued_at) VALUES (?,?,?,?,?,?,?)",
            (
                identity,
                unique_id,
                action,
                frame,
                station_tx,
                local_tx,
                iso_utc(self._clock.now()),
            ),
        )
        return int(cur.lastrowid or 0)

    def added(self, identity: str, count: int = 1) -> None:
        """Count committed inserts."""
        self._counts[identity] += count

    async def add(
        self,
        identity: str,
        unique_id: str,
        action: str,
        frame: str,
        station_tx: int | None = None,
        local_tx: int | None = None,
    ) -> int:
        """Journal one message; durable when this returns."""
        seq = await self._writer.write(
            lambda conn: self.insert_sql(
                conn, identity, unique_id, action, frame, station_tx, local_tx
            )
        )
        self.added(identity)
        return seq

    def next_batch(self, identity: str, after_seq: int = 0, limit: int = 200) -> list[Entry]:
        """Waiting messages of one identity, oldest first."""
        rows = self._db.query(
            "SELECT * FROM uplink_outbox WHERE identity=? AND seq>? ORDER BY seq LIMIT ?",
            (identity, after_seq, limit),
        )
        return [
            Entry(
                r["seq"],
                r["identity"],
                r["unique_id"],
                r["action"],
                r["frame"],
                r["station_tx"],
                r["local_tx"],
            )
            for r in rows
        ]

    def delete_sql(self, conn: sqlite3.Connection, seq: int) -> bool:
        """Remove a delivered message inside a caller's transaction; call removed() after."""
        return conn.execute("DELETE FROM uplink_outbox WHERE seq=?", (seq,)).rowcount > 0

    def removed(self, identity: str) -> None:
        """Count a committed delete."""
        self._counts[identity] = max(0, self._counts[identity] - 1)
