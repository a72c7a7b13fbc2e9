"""Charging transactions and their meter samples; connector status."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from evsite.clock import Clock, iso_utc
from evsite.store.commit import DirectWriter, Writer
from evsite.store.db import Database


@dataclass(frozen=True)
class TransactionRecord:
    """One charging session as stored."""

    id: int
    station_id: str
    connector_id: int
    id_tag: str
    meter_start: int
    start_time: str
    meter_stop: int | None
    stop_time: str | None
    stop_reason: str | None
    energy_wh: int | None


@dataclass(frozen=True)
class Sample:
    """One sampled value from MeterValues."""

    timestamp: str
    measurand: str
    phase: str | None
    unit: str | None
    context: str | None
    value: float


class StopResult:
    """What recording a StopTransaction did."""

    STOPPED = "stopped"
    ALREADY_STOPPED = "already_stopped"
    UNKNOWN = "unknown"


class TransactionRepository:
    """Transactions, samples and connector states."""

    def __init__(self, db: Database, clock: Clock, writer: Writer | None = None) -> None:
        self._db = db
        self._clock = clock
        self._writer = writer or DirectWriter(db)

    async def start(
        self,
        station_id: str,
        connector_id: int,
        id_tag: str,
        meter_start: int,
        start_time: str,
        reservation_id: int | None,
    ) -> int:
        """Record a started transaction; return its id. Durable when this returns.

        A station that repeats a StartTransaction it already sent (no answer
        reached it) gets the same transaction id back, not a second session.
        """

        def write(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "SELECT id FROM transactions WHERE station_id=? AND connector_id=? AND id_tag=?"
                " AND start_time=? AND meter_start=?",
                (station_id, connector_id, id_tag, start_time, meter_start),
            ).fetchone()
            if row:
                return int(row[0])
            cur = conn.execute(
                "INSERT INTO transactions(station_id, connector_id, id_tag, meter_start,"
                " start_time, reservation_id) VALUES (?,?,?,?,?,?)",
                (station_id, connector_id, id_tag, meter_start, start_time, reservation_id),
            )
            return int(cur.lastrowid or 0)

        return await self._writer.write(write)

    async def stop(
        self,
        station_id: str,
        transaction_id: int,
        meter_stop: int,
        stop_time: str,
        reason: str | None,
        id_tag: str | None,
        samples: Iterable[tuple[int, Sample]] = (),
    ) -> str:
        """Record a stop; repeated stops are acknowledged but counted once."""
        samples = list(samples)

        def write(conn: sqlite3.Connection) -> str:
            row = conn.execute(
                "SELECT meter_start, stop_time FROM transactions WHERE id=? AND station_id=?",
                (transaction_id, station_id),
            ).fetchone()
            if row is None:
                return StopResult.UNKNOWN
            if row["stop_time"] is not None:
                return StopResult.ALREADY_STOPPED
            energy = max(0, meter_stop - int(row["meter_start"]))
            conn.execute(
                "UPDATE transactions SET meter_stop=?, stop_time=?, stop_reason=?,"
                " stop_id_tag=?, energy_wh=? WHERE id=?",
                (meter_stop, stop_time, reason, id_tag, energy, transaction_id),
            )
            _insert_samples(conn, station_id, samples, transaction_id)
            return StopResult.STOPPED

        return await self._writer.write(write)

    async def add_samples(
        self, station_id: str, transaction_id: int | None, samples: Iterable[tuple[int, Sample]]
    ) -> None:
        """Store sampled values (connector id, sample)."""
        samples = list(samples)

        def write(conn: sqlite3.Connection) -> None:
            _insert_samples(conn, station_id, samples, transaction_id)

        await self._writer.write(write)

    def get(self, transaction_id: int) -> TransactionRecord | None:
        """One transaction."""
        row = self._db.query_one("SELECT * FROM transactions WHERE id=?", (transaction_id,))
        return _tx(row) if row else None

    def open_for(self, station_id: str) -> list[TransactionRecord]:
        """Transactions of a station that have not stopped."""
        rows = self._db.query(
            "SELECT * FROM transactions WHERE station_id=? AND stop_time IS NULL ORDER BY id",
            (station_id,),
        )
        return [_tx(r) for r in rows]

    def count_open_with_tag(self, id_tag: str, excluding: int) -> int:
        """How many other open transactions an idTag has (for ConcurrentTx)."""
        row = self._db.query_one(
            "SELECT count(*) FROM transactions WHERE id_tag=? COLLATE NOCASE AND"
            " stop_time IS NULL AND id<>?",
            (id_tag, excluding),
        )
        return int(row[0]) if row else 0

    def history(
        self,
        *,
        station_id: str | None = None,
        id_tag: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TransactionRecord]:
        """Transactions newest first, filtered."""
        where, params = _filters(station_id, id_tag, since, until)
        rows = self._db.query(
            f"SELECT * FROM transactions {where} ORDER BY id DESC LIMIT ? OFFSET ?",  # noqa: S608
            (*params, limit, offset),
        )
        return [_tx(r) for r in rows]

    def count(
        self,
        *,
        station_id: str | None = None,
        id_tag: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> int:
        """How many transactions match the filters."""
        where, params = _filters(station_id, id_tag, since, until)
        row = self._db.query_one(f"SELECT count(*) FROM transactions {where}", params)  # noqa: S608
        return int(row[0]) if row else 0

    def samples(self, transaction_id: int) -> list[Sample]:
        """Stored samples of a transaction, in order."""
        rows = self._db.query(
            "SELECT timestamp, measurand, phase, unit, context, value FROM meter_samples"
            " WHERE transaction_id=? ORDER BY id",
            (transaction_id,),
        )
        return [Sample(*r) for r in rows]

    async def set_connector_status(
        self, station_id: str, connector_id: int, status: str, error_code: str, info: str | None
    ) -> None:
        """Keep the latest status of a connector."""
        now = iso_utc(self._clock.now())

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO connectors(station_id, connector_id, status, error_code, info,"
                " updated_at) VALUES (?,?,?,?,?,?) ON CONFLICT(station_id, connector_id) DO"
                " UPDATE SET status=excluded.status, error_code=excluded.error_code,"
                " info=excluded.info, updated_at=excluded.updated_at",
                (station_id, connector_id, status, error_code, info, now),
            )

        await self._writer.write(write)


def _filters(
    station_id: str | None, id_tag: str | None, since: str | None, until: str | None
) -> tuple[str, tuple[object, ...]]:
    clauses: list[str] = []
    params: list[object] = []
    for clause, value in (
        ("station_id=?", station_id),
        ("id_tag=?", id_tag),
        ("start_time>=?", since),
        ("start_time<?", until),
    ):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)


def _insert_samples(
    conn: sqlite3.Connection,
    station_id: str,
    samples: Iterable[tuple[int, Sample]],
    transaction_id: int | None,
) -> None:
    conn.executemany(
        "INSERT INTO meter_samples(station_id, connector_id, transaction_id, timestamp,"
        " measurand, phase, unit, context, value) VALUES (?,?,?,?,?,?,?,?,?)",
        [
            (
                station_id,
                c,
                transaction_id,
                s.timestamp,
                s.measurand,
                s.phase,
                s.unit,
                s.context,
                s.value,
            )
            for c, s in samples
        ],
    )


def _tx(r: sqlite3.Row) -> TransactionRecord:
    return TransactionRecord(
        r["id"],
        r["station_id"],
        r["connector_id"],
        r["id_tag"],
        r["meter_start"],
        r["start_time"],
        r["meter_stop"],
        r["stop_time"],
        r["stop_reason"],
        r["energy_wh"],
    )
