"""Stations, their keys (hashed), address history and pending enrollments."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from evsite.clock import Clock, iso_utc
from evsite.ocpp.keys import hash_key, verify_key
from evsite.store.commit import DirectWriter, Writer
from evsite.store.db import Database


@dataclass(frozen=True)
class StationRecord:
    """An enrolled station as stored."""

    id: str
    security_profile: int
    created_at: str
    vendor: str | None
    model: str | None
    serial: str | None
    firmware: str | None
    last_boot_at: str | None
    last_seen_at: str | None
    has_key: bool


@dataclass(frozen=True)
class PendingEnrollment:
    """A station that tried to connect (or was discovered) but is not enrolled."""

    station_id: str
    address: str
    source: str
    first_seen: str
    last_seen: str
    attempts: int


@dataclass(frozen=True)
class AddressSeen:
    """One address a station connected from."""

    address: str
    first_seen: str
    last_seen: str
    connections: int


class StationRepository:
    """Enrolled stations and enrollment requests."""

    def __init__(self, db: Database, clock: Clock, writer: Writer | None = None) -> None:
        self._db = db
        self._clock = clock
        self._writer = writer or DirectWriter(db)

    def _now(self) -> str:
        return iso_utc(self._clock.now())

    def add(self, station_id: str, key: str | None, security_profile: int) -> None:
        """Enroll a station (removing any pending request for it); key None for mTLS."""
        salt, digest = hash_key(key) if key is not None else (None, None)
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO stations(id, key_salt, key_hash, security_profile, created_at)"
                " VALUES (?,?,?,?,?)",
                (station_id, salt, digest, security_profile, self._now()),
            )
            conn.execute("DELETE FROM pending_enrollments WHERE station_id=?", (station_id,))

    def set_key(self, station_id: str, key: str) -> None:
        """Replace a station's key."""
        salt, digest = hash_key(key)
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE stations SET key_salt=?, key_hash=? WHERE id=?", (salt, digest, station_id)
            )

    def remove(self, station_id: str) -> bool:
        """Unenroll a station; True if it existed."""
        with self._db.transaction() as conn:
            cur = conn.execute("DELETE FROM stations WHERE id=?", (station_id,))
            return cur.rowcount > 0

    def get(self, station_id: str) -> StationRecord | None:
        """One enrolled station."""
        row = self._db.query_one("SELECT * FROM stations WHERE id=?", (station_id,))
        return _station(row) if row else None

    def exists(self, station_id: str) -> bool:
        """True if the station is enrolled."""
        return self._db.query_one("SELECT 1 FROM stations WHERE id=?", (station_id,)) is not None

    def all(self) -> list[StationRecord]:
        """All enrolled stations by id."""
        return [_station(r) for r in self._db.query("SELECT * FROM stations ORDER BY id")]

    def check_key(self, station_id: str, key: str) -> bool:
        """True if the key matches the enrolled station's key."""
        row = self._db.query_one(
            "SELECT key_salt, key_hash FROM stations WHERE id=?", (station_id,)
        )
        if row is None or row["key_hash"] is None:
            return False
        return verify_key(key, row["key_salt"], row["key_hash"])

    async def record_boot(
        self, station_id: str, vendor: str, model: str, serial: str | None, firmware: str | None
    ) -> None:
        """Keep what the station said about itself in its last BootNotification."""
        now = self._now()

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE stations SET vendor=?, model=?, serial=?, firmware=?, last_boot_at=?"
                " WHERE id=?",
                (vendor, model, serial, firmware, now, station_id),
            )

        await self._writer.write(write)

    async def record_connection(self, station_id: str, address: str) -> None:
        """Note that the station connected from an address."""
        now = self._now()

        def write(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE stations SET last_seen_at=? WHERE id=?", (now, station_id))
            conn.execute(
                "INSERT INTO station_addresses(station_id, address, first_seen, last_seen)"
                " VALUES (?,?,?,?) ON CONFLICT(station_id, address) DO UPDATE SET"
                " last_seen=excluded.last_seen, connections=connections+1",
                (station_id, address, now, now),
            )

        await self._writer.write(write)

    def addresses(self, station_id: str) -> list[AddressSeen]:
        """Every address the station connected from, newest first."""
        rows = self._db.query(
            "SELECT address, first_seen, last_seen, connections FROM station_addresses"
            " WHERE station_id=? ORDER BY last_seen DESC",
            (station_id,),
        )
        return [AddressSeen(r[0], r[1], r[2], r[3]) for r in rows]

    def note_pending(self, station_id: str, address: str, source: str) -> bool:
        """Record an enrollment request; True if it is new."""
        now = self._now()
        with self._db.transaction() as conn:
            cur = conn.execute(
                "UPDATE pending_enrollments SET last_seen=?, attempts=attempts+1, address=?"
                " WHERE station_id=?",
                (now, address, station_id),
            )
            if cur.rowcount:
                return False
            conn.execute(
                "INSERT INTO pending_enrollments(station_id, address, source, first_seen,"
                " last_seen) VALUES (?,?,?,?,?)",
                (station_id, address, source, now, now),
            )
            return True

    def pending(self) -> list[PendingEnrollment]:
        """Enrollment requests, oldest first."""
        rows = self._db.query("SELECT * FROM pending_enrollments ORDER BY first_seen")
        return [
            PendingEnrollment(
                r["station_id"],
                r["address"],
                r["source"],
                r["first_seen"],
                r["last_seen"],
                r["attempts"],
            )
            for r in rows
        ]

    def get_pending(self, station_id: str) -> PendingEnrollment | None:
        """One enrollment request."""
        return next((p for p in self.pending() if p.station_id == station_id), None)

    def reject_pending(self, station_id: str) -> bool:
        """Drop an enrollment request; True if there was one."""
        with self._db.transaction() as conn:
            cur = conn.execute("DELETE FROM pending_enrollments WHERE station_id=?", (station_id,))
            return cur.rowcount > 0


def _station(r: sqlite3.Row) -> StationRecord:
    return StationRecord(
        r["id"],
        r["security_profile"],
        r["created_at"],
        r["vendor"],
        r["model"],
        r["serial"],
        r["firmware"],
        r["last_boot_at"],
        r["last_seen_at"],
        r["key_hash"] is not None,
    )
