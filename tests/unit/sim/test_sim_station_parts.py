"""The simulated station's car and charging-profile logic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from evsite.sim.car import Car
from evsite.sim.profiles import ProfileStack, profile_from_payload

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def profile(pid: int, purpose: str, limit: float, level: int = 0, **extra: object) -> dict:
    schedule: dict = {
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
    }
    if "duration" in extra:
        schedule["duration"] = extra.pop("duration")
    return {
        "chargingProfileId": pid,
        "stackLevel": level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": schedule,
        **extra,
    }


def test_tightest_of_station_max_and_transaction_profile_applies() -> None:
    stack = ProfileStack(32)
    stack.install(profile_from_payload(0, profile(1, "ChargePointMaxProfile", 20), T0))
    stack.install(profile_from_payload(1, profile(2, "TxDefaultProfile", 25), T0))
    assert stack.limit(T0) == 20
    stack.install(profile_from_payload(1, profile(3, "TxProfile", 10), T0))
    assert stack.limit(T0) == 10
    stack.clear_transaction_profiles()
    assert stack.limit(T0) == 20


def test_a_lease_profile_expires_back_to_the_safe_limit() -> None:
    stack = ProfileStack(32)
    stack.install(profile_from_payload(0, profile(1, "ChargePointMaxProfile", 6), T0))
    stack.install(
        profile_from_payload(0, profile(2, "ChargePointMaxProfile", 16, level=1, duration=60), T0)
    )
    assert stack.limit(T0 + timedelta(seconds=59)) == 16
    assert stack.limit(T0 + timedelta(seconds=61)) == 6


def test_watt_limits_are_converted_to_amps() -> None:
    p = profile(1, "TxDefaultProfile", 11040)
    p["chargingSchedule"]["chargingRateUnit"] = "W"
    assert round(profile_from_payload(1, p, T0, phases=3).limit_a) == 16


def test_car_follows_the_limit_tapers_when_nearly_full_and_stops_below_6a() -> None:
    car = Car("T", battery_wh=50_000, soc=0.5, max_current_a=16, phases=3, target_soc=1.0)
    assert car.draw(32) == 16
    assert car.draw(10) == 10
    assert car.draw(5) == 0
    car.soc = 0.9
    assert 6 <= car.draw(32) < 16
    energy = car.charge(16, 3600)
    assert round(energy) == 16 * 230 * 3
