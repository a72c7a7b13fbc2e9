"""Faults injected into simulated stations from the site description."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from evsite.clock import SystemClock
from evsite.config_errors import ConfigError
from evsite.ocpp.events import Event, StationConnected, StationDisconnected
from evsite.sim.description import load_site, parse_site
from evsite.sim.station import SimStation
from tests.integration.ocpp.conftest import Site


async def test_disconnect_and_malformed_frame_faults_happen_and_the_station_recovers(
    site: Site, tmp_path: Path
) -> None:
    description = tmp_path / "site.toml"
    description.write_text(
        "[stations]\narrival_mean = 3600\nmeter_interval = 0.2\n"
        '[[faults]]\nstation = "SIM-F"\nat = 0.2\nfault = "malformed_frame"\n'
        '[[faults]]\nstation = "SIM-F"\nat = 0.4\nfault = "disconnect"\nduration = 0.5\n'
    )
    described = load_site(description)
    events: list[Event] = []
    site.controller.events.subscribe(events.append)
    key = site.enroll("SIM-F")
    stop = asyncio.Event()
    station = SimStation(
        "SIM-F",
        key,
        site.url,
        site.tls,
        SystemClock(),
        random.Random(3),
        described.behaviour_for("SIM-F"),
        [],
    )
    task = asyncio.create_task(station.run(stop))
    try:
        for _ in range(200):
            connects = [e for e in events if isinstance(e, StationConnected)]
            if station.faults_injected == 2 and len(connects) == 2 and station.connected.is_set():
                break
            await asyncio.sleep(0.05)
        assert station.faults_injected == 2
        kinds = [
            type(e).__name__
            for e in events
            if isinstance(e, StationConnected | StationDisconnected)
        ]
        assert kinds == ["StationConnected", "StationDisconnected", "StationConnected"]
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"stations": {"arrival_mean": -1}}, "stations.arrival_mean"),
        ({"stations": {"colour": 1}}, "stations.colour"),
        ({"faults": [{"station": "a", "fault": "explode"}]}, "faults[0].fault"),
        ({"faults": [{"fault": "disconnect"}]}, "faults[0].station"),
        ({"faults": [{"station": "a", "fault": "disconnect", "at": -3}]}, "faults[0].at"),
    ],
)
def test_bad_site_descriptions_name_the_key(raw: dict, key: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_site(raw)
    assert error.value.key == key
