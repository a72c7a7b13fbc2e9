"""Transaction ids as the station, evsite and the CSMS know them, and rewriting frames.

Online, the station holds the CSMS's id (the answer is relayed verbatim) and
evsite keeps its own local id beside it. Offline, the station gets an id from
evsite; the CSMS's id arrives when the journaled StartTransaction is replayed,
and every later frame about that transaction is rewritten on its way up (and
the CSMS's RemoteStop or TxProfile on its way down). A frame is re-serialized
only when an id really differs.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from evsite.clock import Clock, iso_utc
from evsite.store.db import Database


@dataclass(frozen=True)
class TxLink:
    """One transaction's three ids."""

    station_id: str
    station_tx: int
    local_tx: int
    csms_tx: int | None


class TxMap:
    """The uplink_tx table."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def by_station_tx(self, station_id: str, station_tx: int) -> TxLink | None:
        """The transaction a station's id refers to."""
        return self._one("station_tx", station_id, station_tx)

    def by_csms_tx(self, station_id: str, csms_tx: int) -> TxLink | None:
        """The transaction a CSMS id refers to."""
        return self._one("csms_tx", station_id, csms_tx)

    def by_local_tx(self, station_id: str, local_tx: int) -> TxLink | None:
        """The transaction a local id refers to (e.g. for the load manager's TxProfile)."""
        return self._one("local_tx", station_id, local_tx)

    def _one(self, column: str, station_id: str, value: int) -> TxLink | None:
        row = self._db.query_one(
            f"SELECT * FROM uplink_tx WHERE station_id=? AND {column}=?"  # noqa: S608
            " ORDER BY rowid DESC LIMIT 1",
            (station_id, value),
        )
        if row is None:
            return None
        return TxLink(row["station_id"], row["station_tx"], row["local_tx"], row["csms_tx"])

    def offline_station_tx(self, station_id: str, local_tx: int) -> int:
        """The id to give a station for a transaction started offline.

        The local id, unless the station already holds that number for another
        transaction (a CSMS id that happens to match): then its negative.
        """
        if self.by_station_tx(station_id, local_tx) is None:
            return local_tx
        return -local_tx

    def link_sql(
        self,
        conn: sqlite3.Connection,
        station_id: str,
        station_tx: int,
        local_tx: int,
        csms_tx: int | None,
    ) -> None:
        """Record (or replace) a transaction's ids inside a caller's transaction."""
        conn.execute(
            "INSERT OR REPLACE INTO uplink_tx(station_id, station_tx, local_tx, csms_tx,"
            " created_at) VALUES (?,?,?,?,?)",
            (station_id, station_tx, local_tx, csms_tx, iso_utc(self._clock.now())),
        )

    def set_csms_sql(
        self, conn: sqlite3.Connection, station_id: str, local_tx: int, csms_tx: int
    ) -> None:
        """The CSMS answered a replayed StartTransaction: remember its id."""
        conn.execute(
            "UPDATE uplink_tx SET csms_tx=? WHERE station_id=? AND local_tx=?",
            (csms_tx, station_id, local_tx),
        )


def transaction_id_of(payload: dict[str, Any]) -> int | None:
    """The transactionId a station request carries, if an integer."""
    value = payload.get("transactionId")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def rewrite_call(frame: str, new_id: int, nested: str | None = None) -> str:
    """A CALL frame with its payload's transactionId (or payload[nested]'s) replaced."""
    message = json.loads(frame)
    target = message[3] if nested is None else message[3][nested]
    target["transactionId"] = new_id
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)
