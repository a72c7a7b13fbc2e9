"""Enrolled stations read in bulk for the web: one SQL statement per list, never one per station.

A site has a thousand stations; a page that asked for each station's addresses
on its own made a thousand queries. These read the same rows the station
repository does, joined in SQLite.
"""

from __future__ import annotations

from dataclasses import dataclass

from evsite.store.db import Database


@dataclass(frozen=True)
class StoredAddress:
    """One address a station connected from, as stored (ISO 8601 times)."""

    address: str
    first_seen: str
    last_seen: str


@dataclass(frozen=True)
class StoredStation:
    """An enrolled station with every address it connected from, newest first."""

    station_id: str
    created_at: str
    addresses: tuple[StoredAddress, ...]


@dataclass(frozen=True)
class StationSeen:
    """An enrolled station's last connection and the address it came from ("" if none)."""

    station_id: str
    last_seen_at: str | None
    address: str


def stations_with_addresses(reader: Database) -> list[StoredStation]:
    """Every enrolled station by id, each with its addresses newest first (one query)."""
    rows = reader.query(
        "SELECT s.id, s.created_at, a.address, a.first_seen, a.last_seen"
        " FROM stations AS s LEFT JOIN station_addresses AS a ON a.station_id = s.id"
        " ORDER BY s.id, a.last_seen DESC"
    )
    out: list[StoredStation] = []
    current: tuple[str, str] | None = None
    addresses: list[StoredAddress] = []
    for station_id, created_at, address, first_seen, last_seen in rows:
        if current is None or current[0] != station_id:
            if current is not None:
                out.append(StoredStation(*current, tuple(addresses)))
            current, addresses = (station_id, created_at), []
        if address is not None:  # LEFT JOIN: a station that never connected has one empty row
            addresses.append(StoredAddress(address, first_seen, last_seen))
    if current is not None:
        out.append(StoredStation(*current, tuple(addresses)))
    return out


def stations_last_seen(reader: Database) -> list[StationSeen]:
    """Every enrolled station by id with its last connection and newest address (one query)."""
    rows = reader.query(
        "SELECT s.id, s.last_seen_at, COALESCE((SELECT a.address FROM station_addresses AS a"
        " WHERE a.station_id = s.id ORDER BY a.last_seen DESC LIMIT 1), '')"
        " FROM stations AS s ORDER BY s.id"
    )
    return [StationSeen(r[0], r[1], r[2]) for r in rows]
