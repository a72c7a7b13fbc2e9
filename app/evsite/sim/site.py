"""The simulated site behind `evsite sim`: the controller, N stations with cars, a meter."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import ssl
from collections.abc import Callable
from pathlib import Path

from evsite.clock import SystemClock
from evsite.config import Settings, parse_settings
from evsite.controller import Controller, ocpp_tls_paths
from evsite.modbus.maps import get_map
from evsite.ocpp.events import Event, MeterSampled, StationDisconnected, TransactionStopped
from evsite.ocpp.keys import generate_key
from evsite.platform.sim import SimPlatform
from evsite.runtime import SETTINGS_FILE, WebFront, open_controller_db, start_web
from evsite.sim.csms import SimCsms, SimPki
from evsite.sim.description import SiteDescription
from evsite.sim.layout import default_energy, default_meter
from evsite.sim.load_profile import LoadProfile, LoadProfileSettings
from evsite.sim.meter import SimMeterServer, SimulatedMeter
from evsite.sim.station import SimStation
from evsite.store.badges import Badge
from evsite.tls import write_private

log = logging.getLogger("evsite.sim")
SIM_BADGE_COUNT = 20


def sim_station_ids(count: int) -> list[str]:
    """Ids of the simulated stations."""
    return [f"sim-{n:03d}" for n in range(1, count + 1)]


def enroll_sim_stations(controller: Controller, count: int) -> dict[str, str]:
    """Enroll the simulated stations (keys kept in the data dir, 0600) and their badges."""
    keys_file = controller.data_dir / "sim-keys.json"
    keys: dict[str, str] = json.loads(keys_file.read_text()) if keys_file.exists() else {}
    for station_id in sim_station_ids(count):
        if station_id not in keys or not controller.stations.exists(station_id):
            keys[station_id] = generate_key()
            controller.stations.remove(station_id)
            controller.stations.add(station_id, keys[station_id], 2)
            controller.audit.record(
                "station.enrolled", actor="sim", detail={"station": station_id, "profile": 2}
            )
    write_private(keys_file, json.dumps(keys).encode())
    for n in range(1, SIM_BADGE_COUNT + 1):
        if controller.badges.get(f"SIMCAR{n:03d}") is None:
            controller.badges.put(Badge(f"SIMCAR{n:03d}", vip=n == 1, label=f"sim car {n}"))
    return keys


def station_tls_context(ca_file: Path) -> ssl.SSLContext:
    """A client context that trusts the controller's own OCPP certificate."""
    context = ssl.create_default_context(cafile=str(ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


async def run_simulated_site(
    settings: Settings,
    data_dir: Path,
    count: int,
    seed: int,
    stop: asyncio.Event,
    site: SiteDescription | None = None,
    csms: bool = False,
    started: Callable[[SimCsms | None], None] | None = None,
) -> None:
    """Run controller, simulated meter and simulated stations until stop is set.

    With csms, a simulated CSMS runs too and every station is relayed to it (proxy
    mode), with its own upstream key; `started` is told about it once all runs.
    """
    clock = SystemClock()
    site = site or SiteDescription()
    ids = sim_station_ids(count)
    profile = LoadProfile(LoadProfileSettings(seed=seed))
    meter = SimulatedMeter(get_map("sdm630"), profile, clock, faults=site.meter.get("faults"))
    meter_server = SimMeterServer([meter], seed=seed)
    meter_port = await meter_server.start_tcp("127.0.0.1", 0)
    raw = dict(settings.raw)
    upstream: SimCsms | None = None
    if csms and "uplink" not in raw:
        pki = SimPki(data_dir / "sim-csms")
        cert, key = pki.issue("csms", "localhost")
        upstream = SimCsms(cert, key, passwords=None)
        await upstream.start()
        raw["uplink"] = {"mode": "proxy", "csms": {"url": upstream.url()}, "ca_bank": str(pki.ca)}
    if "energy" not in raw and ids:
        raw["energy"] = default_energy(ids)
    raw.setdefault("meters", default_meter(meter_port))
    settings = parse_settings(raw)
    controller = Controller(settings, data_dir, clock, open_controller_db(data_dir))
    follow_station_draw(controller, profile)
    keys = enroll_sim_stations(controller, count)
    if upstream is not None:
        for sid in ids:  # upstream keys of their own, distinct from the local ones
            controller.uplink.credentials.set_password(sid, generate_key())
    ports = await controller.start()
    try:
        web = await start_web(
            controller,
            SimPlatform(clock, controller.audit),
            data_dir / SETTINGS_FILE,
            simulated=True,
        )
    except BaseException:
        await controller.stop()
        await meter_server.stop()
        controller.db.close()
        raise
    url = f"wss://localhost:{ports.ocpp_tls}/ocpp"
    cert, _ = ocpp_tls_paths(data_dir)
    tls = station_tls_context(cert)
    rng = random.Random(seed)
    badges = [f"SIMCAR{n:03d}" for n in range(1, SIM_BADGE_COUNT + 1)]
    stations = [
        SimStation(
            sid,
            keys[sid],
            url,
            tls,
            clock,
            random.Random(rng.random()),
            site.behaviour_for(sid),
            badges,
        )
        for sid in ids
    ]
    print_banner(settings, data_dir, ports.ocpp_tls, count, meter_port, web)
    if upstream is not None:
        print(f"  simulated CSMS: {upstream.url()} (proxy mode)", flush=True)
    tasks = [asyncio.create_task(s.run(stop)) for s in stations]
    if started is not None:
        started(upstream)
    try:
        await stop.wait()
    finally:
        await web.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        await controller.stop()
        await meter_server.stop()
        if upstream is not None:
            await upstream.stop()
        controller.db.close()
        print("evsite sim stopped.", flush=True)


def follow_station_draw(controller: Controller, profile: LoadProfile) -> None:
    """The simulated site meter sees what the stations draw, on the site phases they load."""
    tree = controller.settings.load.tree

    def on_event(event: Event) -> None:
        if isinstance(event, TransactionStopped | StationDisconnected):
            profile.clear_station_draw(event.station_id)
        elif isinstance(event, MeterSampled) and event.transaction_id is not None:
            draw = [0.0, 0.0, 0.0]
            site_phases = (
                (0, 1, 2)
                if tree is None or event.station_id not in tree.placements
                else [int(p) for p in tree.placements[event.station_id].site_phases]
            )
            for own, site_phase in enumerate(site_phases):
                draw[site_phase] += event.currents_a[own] or 0.0
            profile.set_station_draw(event.station_id, (draw[0], draw[1], draw[2]))

    controller.events.subscribe(on_event)


def print_banner(
    settings: Settings,
    data_dir: Path,
    ocpp_port: int | None,
    count: int,
    meter_port: int,
    web: WebFront,
) -> None:
    """Tell the newcomer where everything is."""
    lines = [
        "",
        "evsite simulated site is running",
        f"  web UI:         {web.url(settings.web.host)}",
        f"  OCPP stations:  wss://127.0.0.1:{ocpp_port}/ocpp/<stationId>",
        f"  simulated:      {count} stations (sim-001 ...), badges SIMCAR001-{SIM_BADGE_COUNT:03d}",
        f"  site meter:     SDM630 over Modbus TCP at 127.0.0.1:{meter_port}, unit 1",
        f"  data directory: {data_dir}",
    ]
    if web.service.setup_secret is not None:
        lines.append(f"  first-access setup secret: {web.service.setup_secret}")
    lines += ["  stop with Ctrl-C", ""]
    print("\n".join(lines), flush=True)
