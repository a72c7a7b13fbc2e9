"""The control loop: safe limit first, leases, ramping, renewal, stale meters, outside limits."""

from __future__ import annotations

from typing import Any

import pytest

from evsite.clock import FakeClock
from evsite.energy.control import ControlLoop, ControlSettings
from evsite.energy.model import CircuitTree, Node, StationSpec, uniform
from evsite.energy.settings import Mode, Settings


class RecordingSink:
    """Stands in for the stations: records every profile the loop sends."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, float]] = []
        self.accept = True

    async def apply_safe(self, station_id: str, amps: float) -> bool:
        self.calls.append(("safe", station_id, amps))
        return self.accept

    async def apply_lease(self, station_id: str, amps: float, lease_s: float) -> bool:
        self.calls.append(("lease", station_id, amps))
        return self.accept


class Audit:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def record(self, event: str, **kw: Any) -> None:
        self.events.append((event, kw.get("detail") or {}))


def tree() -> CircuitTree:
    return CircuitTree(
        Node(
            id="site",
            name="site contract",
            limit=uniform(40),
            metered=True,
            fallback=uniform(16),
            stations=(StationSpec(id="A", max_a=32), StationSpec(id="B", max_a=32)),
        )
    )


@pytest.fixture
def rig() -> tuple[ControlLoop, RecordingSink, FakeClock, Audit]:
    clock, sink, audit = FakeClock(), RecordingSink(), Audit()
    energy = Settings(mode=Mode.DYNAMIC, raise_hold_s=10, giveback=False)
    loop = ControlLoop(
        tree(),
        energy,
        ControlSettings(safe_current_a=6, lease_s=120, renew_s=40, stale_after_s=15),
        clock,
        sink,
        audit,
    )
    return loop, sink, clock, audit


async def test_a_new_station_gets_the_safe_limit_before_any_lease(rig: Any) -> None:
    loop, sink, _clock, _ = rig
    loop.reading("site", (0.0, 0.0, 0.0))
    loop.station_connected("A")
    loop.session_started("A", vip=False)
    await loop.step()
    assert sink.calls == [("safe", "A", 6), ("lease", "A", 32)]


async def test_lowering_is_immediate_and_raising_waits_for_the_hold(rig: Any) -> None:
    loop, sink, clock, _ = rig
    loop.station_connected("A")
    loop.session_started("A", vip=False)
    loop.reading("site", (10.0, 10.0, 10.0))
    await loop.step()
    assert sink.calls[-1] == ("lease", "A", 30)
    loop.reading("site", (30.0, 30.0, 30.0))  # building rose 20 A: A must drop to 10 A
    await loop.step()
    assert sink.calls[-1] == ("lease", "A", 10)
    loop.reading("site", (10.0, 10.0, 10.0))  # room again, but the raise is held
    clock.advance(1)
    before = len(sink.calls)
    await loop.step()
    assert len(sink.calls) == before
    clock.advance(10)
    loop.reading("site", (10.0, 10.0, 10.0))
    await loop.step()
    assert sink.calls[-1][0] == "lease"
    assert sink.calls[-1][2] > 10


async def test_leases_are_renewed_before_they_lapse(rig: Any) -> None:
    loop, sink, clock, _ = rig
    loop.station_connected("A")
    loop.session_started("A", vip=False)
    for _ in range(4):
        loop.reading("site", (0.0, 0.0, 0.0))
        await loop.step()
        clock.advance(14)
    leases = [c for c in sink.calls if c[0] == "lease"]
    assert len(leases) == 2, "one lease and one renewal in 56 s with renew_s=40"


async def test_stale_meter_falls_back_to_safe_limit_and_recovers(rig: Any) -> None:
    loop, sink, clock, audit = rig
    loop.station_connected("A")
    loop.session_started("A", vip=False)
    loop.reading("site", (0.0, 0.0, 0.0))
    await loop.step()
    assert sink.calls[-1] == ("lease", "A", 32)
    clock.advance(16)  # no reading for longer than stale_after_s
    await loop.step()
    assert sink.calls[-1] == ("lease", "A", 16), "the site's fallback of 16 A applies"
    assert loop.snapshot.stale_nodes == ["site"]
    assert [e for e, _ in audit.events] == ["meter.stale"]
    loop.reading("site", (0.0, 0.0, 0.0))
    clock.advance(11)
    await loop.step()
    assert loop.snapshot.stale_nodes == []
    assert [e for e, _ in audit.events] == ["meter.stale", "meter.recovered"]


async def test_no_alarm_before_the_first_reading(rig: Any) -> None:
    loop, sink, _clock, audit = rig
    loop.station_connected("A")
    loop.session_started("A", vip=False)
    await loop.step()
    assert sink.calls[-1] == ("lease", "A", 16)
    assert audit.events == []


async def test_a_tighter_csms_limit_wins_and_is_released(rig: Any) -> None:
    loop, sink, clock, _ = rig
    loop.station_connected("A")
    loop.session_started("A", vip=False)
    loop.reading("site", (0.0, 0.0, 0.0))
    loop.set_csms_limit("A", 12)
    await loop.step()
    assert sink.calls[-1] == ("lease", "A", 12)
    loop.set_csms_limit("A", None)
    clock.advance(11)
    loop.reading("site", (0.0, 0.0, 0.0))
    await loop.step()
    assert sink.calls[-1] == ("lease", "A", 32)


async def test_an_external_site_limit_caps_the_site(rig: Any) -> None:
    loop, sink, _clock, audit = rig
    for sid in ("A", "B"):
        loop.station_connected(sid)
        loop.session_started(sid, vip=False)
    loop.reading("site", (0.0, 0.0, 0.0))
    loop.set_site_limit(20, "bms")
    await loop.step()
    leases = {c[1]: c[2] for c in sink.calls if c[0] == "lease"}
    assert leases == {"A": 10, "B": 10}
    assert ("energy.site_limit", {"limit_a": 20, "effective_a": 20}) in audit.events


async def test_bms_and_ems_limits_each_fall_back_on_their_own_and_the_tightest_binds(
    rig: Any,
) -> None:
    loop, sink, clock, _ = rig
    for sid in ("A", "B"):
        loop.station_connected(sid)
        loop.session_started(sid, vip=False)

    async def leases() -> dict[str, float]:
        clock.advance(11)  # past the hold time: raising is allowed
        loop.reading("site", (0.0, 0.0, 0.0))
        await loop.step()
        return {c[1]: c[2] for c in sink.calls if c[0] == "lease"}

    loop.set_site_limit(40, "bms")
    loop.set_site_limit(20, "ems")
    assert loop.external_limit() == 20 and await leases() == {"A": 10, "B": 10}
    # The EMS limit expires: the BMS's 40 A stays in force, not the configured 64 A.
    loop.set_site_limit(None, "ems:expired")
    assert loop.site_limits() == {"bms": 40} and loop.snapshot.site_limit_a == 20
    assert await leases() == {"A": 20, "B": 20}
    assert loop.snapshot.site_limit_a == 40
    loop.set_site_limit(None, "bms:fallback")
    assert loop.external_limit() is None


async def test_a_refused_profile_is_sent_again_next_round(rig: Any) -> None:
    loop, sink, _clock, _ = rig
    sink.accept = False
    loop.station_connected("A")
    loop.session_started("A", vip=False)
    loop.reading("site", (0.0, 0.0, 0.0))
    await loop.step()
    sink.accept = True
    await loop.step()
    assert sink.calls[-2:] == [("safe", "A", 6), ("lease", "A", 32)]


async def test_stations_outside_the_tree_are_left_alone(rig: Any) -> None:
    loop, sink, _, _ = rig
    loop.station_connected("STRANGER")
    loop.session_started("STRANGER", vip=False)
    loop.reading("site", (0.0, 0.0, 0.0))
    await loop.step()
    assert sink.calls == []
