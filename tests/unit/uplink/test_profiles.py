"""The CSMS profile seam: schedules evaluated as a station would, tighter limit, listeners."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from evsite.clock import FakeClock, iso_utc
from evsite.store.commit import DirectWriter
from evsite.store.db import Database
from evsite.uplink.profiles import CsmsProfiles, schedule_limit_a


def profile(
    profile_id: int, purpose: str, limit: float, stack: int = 0, **extra: Any
) -> dict[str, Any]:
    schedule: dict[str, Any] = {
        "chargingRateUnit": extra.pop("unit", "A"),
        "chargingSchedulePeriod": extra.pop("periods", [{"startPeriod": 0, "limit": limit}]),
    }
    schedule.update(extra.pop("schedule", {}))
    return {
        "chargingProfileId": profile_id,
        "stackLevel": stack,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": extra.pop("kind", "Absolute"),
        "chargingSchedule": schedule,
        **extra,
    }


def test_schedule_periods_duration_and_validity(clock: FakeClock) -> None:
    now = clock.now()
    p = profile(
        1,
        "TxDefaultProfile",
        0,
        periods=[{"startPeriod": 0, "limit": 32}, {"startPeriod": 600, "limit": 10}],
        schedule={"startSchedule": iso_utc(now), "duration": 1200},
    )
    assert schedule_limit_a(p, now, now) == 32
    assert schedule_limit_a(p, now, now + timedelta(seconds=700)) == 10
    assert schedule_limit_a(p, now, now + timedelta(seconds=1300)) is None
    later = {**p, "validFrom": iso_utc(now + timedelta(hours=1))}
    assert schedule_limit_a(later, now, now) is None


def test_watts_become_amps_per_phase(clock: FakeClock) -> None:
    p = profile(1, "TxDefaultProfile", 0, unit="W", periods=[{"startPeriod": 0, "limit": 6900}])
    assert schedule_limit_a(p, clock.now(), clock.now()) == 10.0
    one = profile(
        1,
        "TxDefaultProfile",
        0,
        unit="W",
        periods=[{"startPeriod": 0, "limit": 2300, "numberPhases": 1}],
    )
    assert schedule_limit_a(one, clock.now(), clock.now()) == 10.0


def test_recurring_daily_schedule_repeats(clock: FakeClock) -> None:
    start = clock.now() - timedelta(days=3, hours=1)
    p = profile(
        1,
        "TxDefaultProfile",
        0,
        kind="Recurring",
        recurrencyKind="Daily",
        periods=[{"startPeriod": 0, "limit": 16}, {"startPeriod": 7200, "limit": 8}],
        schedule={"startSchedule": iso_utc(start)},
    )
    assert schedule_limit_a(p, start, clock.now()) == 16  # one hour into today's cycle
    assert schedule_limit_a(p, start, clock.now() + timedelta(hours=2)) == 8


async def test_tighter_of_tx_and_station_max_and_listeners_hear_changes(
    db: Database, clock: FakeClock
) -> None:
    profiles = CsmsProfiles(db, DirectWriter(db), clock)
    heard: list[str] = []
    profiles.subscribe(heard.append)
    assert profiles.limit_a("CP-1", 1) is None
    await profiles.put("CP-1", 0, profile(1, "TxDefaultProfile", 20), None)
    assert profiles.limit_a("CP-1", 1) == 20
    await profiles.put("CP-1", 1, profile(2, "TxProfile", 25, stack=1, transactionId=9), 4)
    assert profiles.limit_a("CP-1", 1, local_tx=4) == 25  # TxProfile overrides TxDefault
    assert profiles.limit_a("CP-1", 1, local_tx=5) == 20  # not this transaction's
    await profiles.put("CP-1", 0, profile(3, "ChargePointMaxProfile", 16), None)
    assert profiles.limit_a("CP-1", 1, local_tx=4) == 16  # the station cap binds
    # Same stack level and purpose replaces; ids are unique per station.
    await profiles.put("CP-1", 0, profile(4, "ChargePointMaxProfile", 30), None)
    assert profiles.limit_a("CP-1", 1, local_tx=4) == 25
    assert await profiles.clear("CP-1", purpose="TxProfile") == 1
    assert await profiles.clear("CP-1", profile_id=99) == 0
    assert profiles.limit_a("CP-1", 1, local_tx=4) == 20
    assert heard == ["CP-1"] * 5
    assert len(profiles.for_station("CP-1")) == 2
