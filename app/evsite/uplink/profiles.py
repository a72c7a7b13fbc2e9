"""The CSMS's charging profiles, kept for the load manager: the seam where CSMS and site meet.

With `csms_profiles = "combine"` a CSMS SetChargingProfile is not passed to the
station: it is recorded here and the load manager reads `limit_a()` for each
connector and sends the station the tighter of this and its own limit. Every
change calls the subscribed listeners with the station id, so the control loop
can recompute at once instead of waiting for its next tick.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from evsite.clock import Clock, iso_utc
from evsite.ocpp.frames import parse_timestamp, valid_timestamp
from evsite.store.commit import Writer
from evsite.store.db import Database

log = logging.getLogger("evsite.uplink")
NOMINAL_VOLTAGE = 230.0
_RECURRENCE = {"Daily": timedelta(days=1), "Weekly": timedelta(days=7)}


@dataclass(frozen=True)
class CsmsProfile:
    """One profile the CSMS set for a station's connector (0 = the whole station)."""

    station_id: str
    connector_id: int
    profile_id: int
    stack_level: int
    purpose: str
    local_tx: int | None
    payload: dict[str, Any]
    received_at: datetime

    def limit_a(self, now: datetime, phases: int = 3) -> float | None:
        """The per-phase current limit this profile sets now, or None when it does not apply."""
        return schedule_limit_a(self.payload, self.received_at, now, phases)


def _time(text: Any) -> datetime | None:
    return parse_timestamp(text) if isinstance(text, str) and valid_timestamp(text) else None


def schedule_limit_a(
    profile: dict[str, Any], received: datetime, now: datetime, phases: int = 3
) -> float | None:
    """Evaluate an OCPP 1.6 ChargingProfile's schedule at `now` (A per phase)."""
    valid_from, valid_to = _time(profile.get("validFrom")), _time(profile.get("validTo"))
    if (valid_from and now < valid_from) or (valid_to and now >= valid_to):
        return None
    schedule = profile["chargingSchedule"]
    start = _time(schedule.get("startSchedule")) or received
    kind = profile.get("chargingProfileKind", "Absolute")
    if kind == "Relative":
        start = received
    elif kind == "Recurring":
        period = _RECURRENCE.get(profile.get("recurrencyKind", "Daily"), timedelta(days=1))
        if now >= start:
            start += period * ((now - start) // period)
    elapsed = (now - start).total_seconds()
    duration = schedule.get("duration")
    if elapsed < 0 or (duration is not None and elapsed >= duration):
        return None
    current: dict[str, Any] | None = None
    for period_entry in sorted(schedule["chargingSchedulePeriod"], key=lambda p: p["startPeriod"]):
        if period_entry["startPeriod"] <= elapsed:
            current = period_entry
    if current is None:
        return None
    limit = float(current["limit"])
    if schedule.get("chargingRateUnit") == "W":
        used = int(current.get("numberPhases", phases)) or phases
        limit /= NOMINAL_VOLTAGE * used
    return limit


class CsmsProfiles:
    """Recorded CSMS profiles, durable across restarts, observable by the load manager."""

    def __init__(self, db: Database, writer: Writer, clock: Clock) -> None:
        self._db = db
        self._writer = writer
        self._clock = clock
        self._listeners: list[Callable[[str], None]] = []

    def subscribe(self, listener: Callable[[str], None]) -> None:
        """Call listener(station_id) after every change to that station's CSMS profiles."""
        self._listeners.append(listener)

    def _changed(self, station_id: str) -> None:
        for listener in self._listeners:
            try:
                listener(station_id)
            except Exception:
                log.exception("CSMS profile listener failed for %s", station_id)

    async def put(
        self, station_id: str, connector_id: int, profile: dict[str, Any], local_tx: int | None
    ) -> None:
        """Record a SetChargingProfile (replacing one with the same id, or same stack/purpose)."""
        now = iso_utc(self._clock.now())

        def write(conn: sqlite3.Connection) -> None:
            # OCPP 1.6: a new profile replaces one with the same id, and one with the
            # same stack level and purpose.
            conn.execute(
                "DELETE FROM uplink_csms_profiles WHERE station_id=? AND (profile_id=? OR"
                " (connector_id=? AND stack_level=? AND purpose=?))",
                (
                    station_id,
                    profile["chargingProfileId"],
                    connector_id,
                    profile["stackLevel"],
                    profile["chargingProfilePurpose"],
                ),
            )
            conn.execute(
                "INSERT INTO uplink_csms_profiles(station_id, connector_id, profile_id,"
                " stack_level, purpose, local_tx, profile, received_at) VALUES (?,?,?,?,?,?,?,?)",
                (
                    station_id,
                    connector_id,
                    profile["chargingProfileId"],
                    profile["stackLevel"],
                    profile["chargingProfilePurpose"],
                    local_tx,
                    json.dumps(profile, default=float),
                    now,
                ),
            )

        await self._writer.write(write)
        self._changed(station_id)

    async def clear(
        self,
        station_id: str,
        *,
        profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: str | None = None,
        stack_level: int | None = None,
    ) -> int:
        """ClearChargingProfile semantics: every criterion given must match; returns how many."""
        clauses, params = ["station_id=?"], [station_id]
        for column, value in (
            ("profile_id", profile_id),
            ("connector_id", connector_id),
            ("purpose", purpose),
            ("stack_level", stack_level),
        ):
            if value is not None:
                clauses.append(f"{column}=?")
                params.append(value)  # type: ignore[arg-type]
        sql = "DELETE FROM uplink_csms_profiles WHERE " + " AND ".join(clauses)  # noqa: S608
        removed = await self._writer.write(lambda conn: conn.execute(sql, params).rowcount)
        if removed:
            self._changed(station_id)
        return int(removed)

    def for_station(self, station_id: str) -> list[CsmsProfile]:
        """A station's recorded profiles."""
        rows = self._db.query(
            "SELECT * FROM uplink_csms_profiles WHERE station_id=? ORDER BY connector_id,"
            " stack_level",
            (station_id,),
        )
        return [
            CsmsProfile(
                r["station_id"],
                r["connector_id"],
                r["profile_id"],
                r["stack_level"],
                r["purpose"],
                r["local_tx"],
                json.loads(r["profile"]),
                parse_timestamp(r["received_at"]),
            )
            for r in rows
        ]

    def limit_a(
        self, station_id: str, connector_id: int, local_tx: int | None = None, phases: int = 3
    ) -> float | None:
        """The CSMS's current limit for a connector now (None: the CSMS sets none).

        As a station would combine them: the highest-stack TxProfile for the
        running transaction, else the highest-stack TxDefaultProfile, capped by
        the highest-stack ChargePointMaxProfile.
        """
        now = self._clock.now()
        best: dict[str, tuple[int, float]] = {}
        for p in self.for_station(station_id):
            if p.purpose == "ChargePointMaxProfile":
                applies = p.connector_id == 0
            elif p.purpose == "TxProfile":
                applies = p.connector_id == connector_id and (
                    p.local_tx is None or p.local_tx == local_tx
                )
            else:
                applies = p.connector_id in (0, connector_id)
            limit = p.limit_a(now, phases) if applies else None
            if limit is None:
                continue
            # A connector-specific TxDefault outranks the station-wide one at equal stack level.
            rank = p.stack_level * 2 + (1 if p.connector_id else 0)
            if p.purpose not in best or rank > best[p.purpose][0]:
                best[p.purpose] = (rank, limit)
        tx = best.get("TxProfile") or best.get("TxDefaultProfile")
        cap = best.get("ChargePointMaxProfile")
        limits = [v for _, v in (x for x in (tx, cap) if x is not None)]
        return min(limits) if limits else None
