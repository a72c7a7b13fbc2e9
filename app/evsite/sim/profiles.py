"""Charging profiles as a station applies them: the effective current limit right now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from evsite.ocpp.frames import parse_timestamp, valid_timestamp


@dataclass(frozen=True)
class InstalledProfile:
    """A SetChargingProfile the station accepted."""

    connector_id: int
    profile_id: int
    stack_level: int
    purpose: str
    limit_a: float
    expires: datetime | None
    transaction_id: int | None


def profile_from_payload(
    connector_id: int,
    profile: dict[str, Any],
    received: datetime,
    voltage_v: float = 230.0,
    phases: int = 3,
) -> InstalledProfile:
    """The current limit of the schedule's first period, and when the profile stops applying."""
    schedule = profile["chargingSchedule"]
    limit = float(schedule["chargingSchedulePeriod"][0]["limit"])
    if schedule["chargingRateUnit"] == "W":
        limit = limit / (voltage_v * phases)
    expires: datetime | None = None
    if "duration" in schedule:
        start_text = schedule.get("startSchedule")
        start = (
            parse_timestamp(start_text) if start_text and valid_timestamp(start_text) else received
        )
        expires = start + timedelta(seconds=int(schedule["duration"]))
    valid_to = profile.get("validTo")
    if valid_to and valid_timestamp(valid_to):
        until = parse_timestamp(valid_to)
        expires = until if expires is None else min(expires, until)
    return InstalledProfile(
        connector_id,
        int(profile["chargingProfileId"]),
        int(profile["stackLevel"]),
        profile["chargingProfilePurpose"],
        limit,
        expires,
        profile.get("transactionId"),
    )


class ProfileStack:
    """The profiles a station holds; the limit is the tightest that applies."""

    def __init__(self, hardware_max_a: float) -> None:
        self.hardware_max_a = hardware_max_a
        self._profiles: dict[int, InstalledProfile] = {}

    def install(self, profile: InstalledProfile) -> None:
        """Add or replace (same id, or same purpose and stack level) a profile."""
        for pid, other in list(self._profiles.items()):
            if (
                other.purpose == profile.purpose
                and other.stack_level == profile.stack_level
                and other.connector_id == profile.connector_id
            ):
                del self._profiles[pid]
        self._profiles[profile.profile_id] = profile

    def clear(self, profile_id: int | None = None, purpose: str | None = None) -> int:
        """Remove matching profiles; return how many."""
        doomed = [
            pid
            for pid, p in self._profiles.items()
            if (profile_id is None or pid == profile_id)
            and (purpose is None or p.purpose == purpose)
        ]
        for pid in doomed:
            del self._profiles[pid]
        return len(doomed)

    def clear_transaction_profiles(self) -> None:
        """TxProfiles end with their transaction."""
        self.clear(purpose="TxProfile")

    def limit(self, now: datetime, connector_id: int = 1) -> float:
        """The effective current limit at a moment."""
        live = [p for p in self._profiles.values() if p.expires is None or p.expires > now]

        def top(purpose: str) -> float | None:
            matching = [
                p for p in live if p.purpose == purpose and p.connector_id in (0, connector_id)
            ]
            return max(matching, key=lambda p: p.stack_level).limit_a if matching else None

        limit = self.hardware_max_a
        station_max = top("ChargePointMaxProfile")
        if station_max is not None:
            limit = min(limit, station_max)
        tx = top("TxProfile")
        tx_default = top("TxDefaultProfile")
        chosen = tx if tx is not None else tx_default
        if chosen is not None:
            limit = min(limit, chosen)
        return limit

    def profiles(self) -> list[InstalledProfile]:
        """The installed profiles."""
        return list(self._profiles.values())
