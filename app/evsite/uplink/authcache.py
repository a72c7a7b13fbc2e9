"""What the CSMS told us about idTags: its local lists (SendLocalList), the authorization cache."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from evsite.clock import Clock, iso_utc
from evsite.ocpp.authorize import Authorization, is_expired
from evsite.ocpp.frames import parse_timestamp, valid_timestamp
from evsite.store.commit import Writer
from evsite.store.db import Database


class LocalListError(ValueError):
    """A SendLocalList that cannot be applied (a differential update to an older version)."""


def authorization_from(info: dict[str, Any]) -> Authorization:
    """An OCPP IdTagInfo as an Authorization."""
    return Authorization(
        str(info.get("status", "Invalid")), info.get("expiryDate"), info.get("parentIdTag")
    )


class CsmsLocalLists:
    """Each station's Local Authorization List as the CSMS sent it, with its version."""

    def __init__(self, db: Database, writer: Writer) -> None:
        self._db = db
        self._writer = writer

    def version(self, station_id: str) -> int:
        """The list version held for a station (0: none)."""
        row = self._db.query_one(
            "SELECT version FROM uplink_local_list_version WHERE station_id=?", (station_id,)
        )
        return int(row[0]) if row else 0

    def get(self, station_id: str, id_tag: str) -> Authorization | None:
        """The station's list entry for an idTag."""
        row = self._db.query_one(
            "SELECT status, expiry, parent_id_tag FROM uplink_local_list"
            " WHERE station_id=? AND id_tag=?",
            (station_id, id_tag),
        )
        return Authorization(row[0], row[1], row[2]) if row else None

    def size(self, station_id: str) -> int:
        """How many entries a station's list holds."""
        row = self._db.query_one(
            "SELECT count(*) FROM uplink_local_list WHERE station_id=?", (station_id,)
        )
        return int(row[0]) if row else 0

    async def apply(self, station_id: str, payload: dict[str, Any]) -> None:
        """Apply a validated SendLocalList payload (Full replaces, Differential updates)."""
        version = int(payload["listVersion"])
        full = payload["updateType"] == "Full"
        entries = payload.get("localAuthorizationList") or []
        if not full and version <= self.version(station_id) and version != -1:
            raise LocalListError(f"differential update to version {version} is not newer")

        def write(conn: sqlite3.Connection) -> None:
            if full:
                conn.execute("DELETE FROM uplink_local_list WHERE station_id=?", (station_id,))
            for entry in entries:
                info = entry.get("idTagInfo")
                if info is None:
                    conn.execute(
                        "DELETE FROM uplink_local_list WHERE station_id=? AND id_tag=?",
                        (station_id, entry["idTag"]),
                    )
                    continue
                conn.execute(
                    "INSERT OR REPLACE INTO uplink_local_list(station_id, id_tag, status, expiry,"
                    " parent_id_tag) VALUES (?,?,?,?,?)",
                    (
                        station_id,
                        entry["idTag"],
                        info["status"],
                        info.get("expiryDate"),
                        info.get("parentIdTag"),
                    ),
                )
            conn.execute(
                "INSERT OR REPLACE INTO uplink_local_list_version(station_id, version)"
                " VALUES (?, ?)",
                (station_id, version),
            )

        await self._writer.write(write)


@dataclass(frozen=True)
class _Cached:
    authorization: Authorization
    cached_at: str


class AuthCache:
    """The last IdTagInfo the CSMS gave for each idTag, valid for a time-to-live."""

    def __init__(self, db: Database, writer: Writer, clock: Clock, ttl_s: float) -> None:
        self._db = db
        self._writer = writer
        self._clock = clock
        self._ttl = timedelta(seconds=ttl_s)

    async def put(self, id_tag: str, info: dict[str, Any]) -> None:
        """Remember the CSMS's answer for an idTag."""
        decision = authorization_from(info)
        now = iso_utc(self._clock.now())
        await self._writer.write(
            lambda conn: conn.execute(
                "INSERT OR REPLACE INTO uplink_auth_cache(id_tag, status, expiry, parent_id_tag,"
                " cached_at) VALUES (?,?,?,?,?)",
                (id_tag, decision.status, decision.expiry_date, decision.parent_id_tag, now),
            )
        )

    def get(self, id_tag: str) -> Authorization | None:
        """The cached decision, unless older than the time-to-live."""
        row = self._db.query_one(
            "SELECT status, expiry, parent_id_tag, cached_at FROM uplink_auth_cache WHERE id_tag=?",
            (id_tag,),
        )
        if row is None:
            return None
        cached_at = row["cached_at"]
        if (
            valid_timestamp(cached_at)
            and parse_timestamp(cached_at) + self._ttl <= self._clock.now()
        ):
            return None
        return Authorization(row["status"], row["expiry"], row["parent_id_tag"])


def usable(decision: Authorization | None, clock: Clock) -> Authorization | None:
    """A decision with its expiry applied (Accepted past its expiryDate becomes Expired)."""
    if decision is None:
        return None
    if decision.status == "Accepted" and is_expired(decision.expiry_date, clock.now()):
        return Authorization("Expired", decision.expiry_date, decision.parent_id_tag, decision.vip)
    return decision
