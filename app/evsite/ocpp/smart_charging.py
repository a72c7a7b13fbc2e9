"""Limits to charging profiles: the permanent safe limit and the renewable lease.

Both are ChargePointMaxProfiles on connector 0, so they cap the whole station
whatever Tx/TxDefault profiles a CSMS installs: the tighter always wins. The safe
one sits at stack level 0 with no end; the lease sits at stack level 1 with a
duration, so when it is not renewed the station falls back to the safe one by
itself.
"""

from __future__ import annotations

import logging
from typing import Any

from ocpp.v16 import call

from evsite.clock import Clock, iso_utc
from evsite.ocpp.commands import NotConnected, StationCommands
from evsite.ocpp.session import CallFailed

log = logging.getLogger("evsite.ocpp")
SAFE_PROFILE_ID = 9_000
LEASE_PROFILE_ID = 9_001


def max_profile(
    profile_id: int,
    stack_level: int,
    amps: float,
    start: str | None = None,
    duration_s: int | None = None,
) -> dict[str, Any]:
    """A ChargePointMaxProfile limiting every phase to amps (one decimal, as OCPP wants)."""
    schedule: dict[str, Any] = {
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": round(amps, 1)}],
    }
    if duration_s is not None:
        schedule["duration"] = duration_s
        schedule["startSchedule"] = start
    return {
        "chargingProfileId": profile_id,
        "stackLevel": stack_level,
        "chargingProfilePurpose": "ChargePointMaxProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": schedule,
    }


class ProfileSender:
    """A LimitSink that speaks SetChargingProfile to connected stations."""

    def __init__(self, commands: StationCommands, clock: Clock, timeout_s: float = 10.0) -> None:
        self._commands = commands
        self._clock = clock
        self._timeout = timeout_s
        self.sent = 0
        self.failed = 0

    async def apply_safe(self, station_id: str, amps: float) -> bool:
        """Install the permanent safe limit."""
        return await self._set(station_id, max_profile(SAFE_PROFILE_ID, 0, amps))

    async def apply_lease(self, station_id: str, amps: float, lease_s: float) -> bool:
        """Install a limit that lapses after lease_s unless renewed."""
        profile = max_profile(LEASE_PROFILE_ID, 1, amps, iso_utc(self._clock.now()), int(lease_s))
        return await self._set(station_id, profile)

    async def _set(self, station_id: str, profile: dict[str, Any]) -> bool:
        try:
            answer = await self._commands.send(
                station_id,
                call.SetChargingProfile(connector_id=0, cs_charging_profiles=profile),
                timeout=self._timeout,
            )
        except (NotConnected, ConnectionError, TimeoutError, CallFailed) as exc:
            self.failed += 1
            log.info("%s: charging profile not delivered: %r", station_id, exc)
            return False
        accepted = answer.get("status") == "Accepted"
        if accepted:
            self.sent += 1
        else:
            self.failed += 1
            log.warning("%s: charging profile %s", station_id, answer.get("status"))
        return accepted
