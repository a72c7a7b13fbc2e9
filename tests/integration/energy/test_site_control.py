"""Load management end to end: a Modbus TCP meter, real OCPP stations, the controller."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from evsite.clock import SystemClock
from evsite.config import parse_settings
from evsite.controller import Controller
from evsite.modbus.maps import get_map
from evsite.ocpp.keys import generate_key
from evsite.sim.car import Car
from evsite.sim.load_profile import LoadProfile, LoadProfileSettings
from evsite.sim.meter import SimMeterServer, SimulatedMeter
from evsite.sim.site import follow_station_draw
from evsite.sim.station import SimStation, StationBehaviour
from evsite.store.badges import Badge
from tests.integration.ocpp.conftest import client_tls

STATIONS = ("S1", "S2")


class Rig:
    def __init__(
        self, controller: Controller, meter: SimulatedMeter, stations: dict[str, SimStation]
    ) -> None:
        self.controller = controller
        self.meter = meter
        self.stations = stations

    def limit(self, station_id: str, ahead_s: float = 0.0) -> float:
        station = self.stations[station_id]
        return station.profiles.limit(SystemClock().now() + timedelta(seconds=ahead_s))


async def until(
    predicate: Callable[[], bool], what: str, rig: Rig | None = None, seconds: float = 20
) -> None:
    for _ in range(int(seconds / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    state = rig.controller.status() if rig else ""
    limits = {s: rig.limit(s) for s in rig.stations} if rig else ""
    raise AssertionError(f"timed out waiting for {what}: {limits} {state}")


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    clock = SystemClock()
    profile = LoadProfile(LoadProfileSettings(base_w=0, peak_w=0, noise_frac=0))
    meter = SimulatedMeter(get_map("sdm630"), profile, clock)
    server = SimMeterServer([meter])
    port = await server.start_tcp("127.0.0.1", 0)
    raw: dict[str, Any] = {
        "ocpp": {"bind": "127.0.0.1", "port": 0},
        "energy": {
            "mode": "dynamic",
            "raise_hold_s": 0.2,
            "giveback": False,
            "site": {
                "id": "site",
                "name": "site contract",
                "limit_a": 40,
                "metered": True,
                "fallback_a": 10,
                "stations": [{"id": s, "max_a": 32} for s in STATIONS],
            },
        },
        "meters": [
            {
                "name": "site",
                "family": "sdm630",
                "transport": "tcp",
                "host": "127.0.0.1",
                "port": port,
                "unit_id": 1,
                "role": "site",
            }
        ],
        "control": {
            "meter_interval_s": 0.2,
            "lease_s": 3,
            "renew_s": 1,
            "stale_after_s": 1.5,
            "tick_s": 0.5,
        },
    }
    controller = Controller(parse_settings(raw), tmp_path, clock)
    follow_station_draw(controller, profile)  # the site meter sees the cars, as in reality
    keys = {}
    for sid in STATIONS:
        keys[sid] = generate_key()
        controller.stations.add(sid, keys[sid], 2)
    for sid in STATIONS:
        controller.badges.put(Badge(f"CAR-{sid}"))
    ports = await controller.start()
    stop = asyncio.Event()
    stations = {
        sid: SimStation(
            sid,
            keys[sid],
            f"wss://localhost:{ports.ocpp_tls}/ocpp",
            client_tls(tmp_path),
            clock,
            random.Random(n),
            StationBehaviour(arrival_mean=3600, meter_interval=0.2, dwell_min=3600, dwell_max=3600),
            [],
        )
        for n, sid in enumerate(STATIONS)
    }
    tasks = [asyncio.create_task(s.run(stop)) for s in stations.values()]
    for station in stations.values():
        await asyncio.wait_for(station.connected.wait(), 10)
        badge = f"CAR-{station.station_id}"
        station.arrive(Car(badge, 60_000, 0.3, 32, 3, target_soc=1.0), remote=True)
    yield Rig(controller, meter, stations)
    stop.set()
    # Bounded: a hang here must fail the test, not stall the suite.
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 15)
    await asyncio.wait_for(controller.stop(), 15)
    await asyncio.wait_for(server.stop(), 15)
    controller.db.close()


async def test_a_building_load_step_lowers_every_station_and_never_overloads(rig: Rig) -> None:
    await until(lambda: all(rig.limit(s) == 20 for s in STATIONS), "an even 20/20 split", rig)
    rig.meter.set_load_step((20.0, 20.0, 20.0))
    await until(lambda: all(rig.limit(s) == 10 for s in STATIONS), "10 A each after the step", rig)
    status = rig.controller.status()
    bindings = {s["id"]: s["binding"] for s in status["stations"]}
    assert all("site contract" in bindings[s] for s in STATIONS)


async def test_every_station_holds_a_safe_limit_and_a_lease_that_lapses(rig: Rig) -> None:
    await until(lambda: all(rig.limit(s) == 20 for s in STATIONS), "leases in force", rig)
    for sid in STATIONS:
        purposes = sorted((p.purpose, p.stack_level) for p in rig.stations[sid].profiles.profiles())
        assert purposes == [("ChargePointMaxProfile", 0), ("ChargePointMaxProfile", 1)]
        # Were the controller to die now, the lease would lapse and 6 A would remain.
        assert rig.limit(sid, ahead_s=5) == 6


async def test_a_silent_meter_brings_the_fallback_and_its_return_recovers(rig: Rig) -> None:
    await until(lambda: all(rig.limit(s) == 20 for s in STATIONS), "leases in force", rig)
    rig.meter.set_faults({"silent": True})
    # Fallback 10 A for the site: room for one minimum (6 A) only, so one car pauses.
    await until(lambda: sorted(rig.limit(s) for s in STATIONS) == [0, 10], "fallback limits")
    events = [r.event for r in rig.controller.audit.records()]
    assert "meter.stale" in events
    rig.meter.set_faults({})
    await until(lambda: all(rig.limit(s) == 20 for s in STATIONS), "recovery")
    assert "meter.recovered" in [r.event for r in rig.controller.audit.records()]
