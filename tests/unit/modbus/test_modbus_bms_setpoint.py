"""The BMS setpoint watchdog, driven by a fake clock."""

from __future__ import annotations

import pytest

from evsite.clock import FakeClock
from evsite.modbus.bms_setpoint import EffectiveSetpoint, SetpointWatchdog


def make(clock: FakeClock, seen: list[EffectiveSetpoint]) -> SetpointWatchdog:
    return SetpointWatchdog(
        clock=clock, watchdog_s=10, fallback_a=16.0, max_a=100.0, on_change=seen.append
    )


def test_setpoint_applies_until_the_watchdog_expires() -> None:
    clock, seen = FakeClock(), list[EffectiveSetpoint]()
    wd = make(clock, seen)
    assert wd.check() == EffectiveSetpoint(16.0, "fallback")
    wd.write(40.0)
    clock.advance(9.9)
    assert wd.check() == EffectiveSetpoint(40.0, "bms")
    clock.advance(0.2)
    assert wd.check() == EffectiveSetpoint(16.0, "fallback")
    assert seen == [EffectiveSetpoint(40.0, "bms"), EffectiveSetpoint(16.0, "fallback")]
    assert wd.expiries == 1


def test_refreshing_the_same_value_keeps_it_without_new_notifications() -> None:
    clock, seen = FakeClock(), list[EffectiveSetpoint]()
    wd = make(clock, seen)
    for _ in range(5):
        wd.write(40.0)
        clock.advance(8)
        wd.check()
    assert seen == [EffectiveSetpoint(40.0, "bms")]


def test_out_of_range_setpoint_changes_nothing() -> None:
    clock, seen = FakeClock(), list[EffectiveSetpoint]()
    wd = make(clock, seen)
    wd.write(30.0)
    with pytest.raises(ValueError, match="outside"):
        wd.write(100.5)
    with pytest.raises(ValueError, match="outside"):
        wd.write(float("nan"))
    assert wd.effective == EffectiveSetpoint(30.0, "bms")
    assert wd.writes == 1


def test_clear_drops_the_setpoint_at_once() -> None:
    clock, seen = FakeClock(), list[EffectiveSetpoint]()
    wd = make(clock, seen)
    wd.write(30.0)
    assert wd.clear() == EffectiveSetpoint(16.0, "fallback")
    assert seen[-1] == EffectiveSetpoint(16.0, "fallback")
