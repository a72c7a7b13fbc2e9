"""Seed a controller's store with a large site: enrolled stations and weeks of past sessions.

Rows go straight into the core tables in one transaction (one fsync, seconds not
minutes), in the same form the station repository and the OCPP handlers write them,
so the facade, the sessions page and the API read them like any others.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from evsite.clock import iso_utc
from evsite.ocpp.keys import hash_key
from evsite.store.db import Database

BADGES = 500
HISTORY = timedelta(weeks=12)
STOP_REASONS = ("EVDisconnected", "Local", "Remote", "PowerLoss")


def bench_station_ids(count: int) -> list[str]:
    """The ids the OCPP load connects as (tests.bench.ocpp_servers uses the same)."""
    return [f"B{n:05d}" for n in range(count)]


def seed_site(db: Database, now: datetime, stations: int, sessions: int, key: str) -> None:
    """Enroll `stations` stations with `key` and store `sessions` finished sessions."""
    rng = random.Random(1)  # the same site every run
    ids = bench_station_ids(stations)
    created = iso_utc(now - HISTORY - timedelta(days=1))
    # A salt of its own per station, as enrollment gives it.
    station_rows = [(sid, *hash_key(key), 2, created, "Bench", "B1") for sid in ids]
    badge_rows = [(f"BADGE{n:05d}", f"bench car {n}") for n in range(BADGES)]
    with db.transaction() as conn:
        conn.executemany(
            "INSERT INTO stations(id, key_salt, key_hash, security_profile, created_at,"
            " vendor, model) VALUES (?,?,?,?,?,?,?)",
            station_rows,
        )
        conn.executemany("INSERT INTO badges(id_tag, label) VALUES (?,?)", badge_rows)
        conn.executemany(
            "INSERT INTO transactions(station_id, connector_id, id_tag, meter_start, start_time,"
            " meter_stop, stop_time, stop_reason, stop_id_tag, energy_wh)"
            " VALUES (?,?,?,?,?,?,?,?,?,?)",
            _sessions(rng, ids, now, sessions),
        )


def _sessions(
    rng: random.Random, ids: list[str], now: datetime, count: int
) -> list[tuple[object, ...]]:
    """Sessions oldest first (ids grow with time, as when recorded live), all finished."""
    start = now - HISTORY
    step = (HISTORY - timedelta(hours=12)) / count
    meters = dict.fromkeys(ids, 0)
    rows: list[tuple[object, ...]] = []
    for n in range(count):
        sid = rng.choice(ids)
        badge = f"BADGE{rng.randrange(BADGES):05d}"
        began = start + step * n
        minutes = rng.randint(20, 600)
        energy = int(minutes / 60 * rng.uniform(3000, 11000))
        meter_start = meters[sid]
        meters[sid] += energy
        rows.append(
            (
                sid,
                rng.randint(1, 2),
                badge,
                meter_start,
                iso_utc(began),
                meter_start + energy,
                iso_utc(began + timedelta(minutes=minutes)),
                rng.choice(STOP_REASONS),
                badge,
                energy,
            )
        )
    return rows
