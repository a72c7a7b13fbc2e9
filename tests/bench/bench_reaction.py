"""Reaction of load management: a building load step at the meter -> new limits at every station.

The controller runs as its own process with a simulated SDM630 site meter (Modbus
TCP) polled every 0.2 s. N stations (lightweight WSS clients in this process)
charge; the site is full. Then the building load steps up and every station
must be lowered. Reported: from the first meter read that shows the step to the
moment each station received its lowered limit (median, p99, last). The wire
part of that (Modbus read, allocate, one SetChargingProfile per station) is what
the controller adds; the poll interval comes on top in the field.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect

from evsite.clock import SystemClock
from evsite.controller import ocpp_tls_paths
from evsite.modbus.maps import get_map
from evsite.sim.load_profile import LoadProfile, LoadProfileSettings
from evsite.sim.meter import SimMeterServer, SimulatedMeter
from evsite.store.badges import Badge, BadgeRepository
from evsite.store.db import open_database
from evsite.store.stations import StationRepository
from tests.bench.ocpp_servers import BENCH_KEY, raise_fd_limit
from tests.integration.ocpp.conftest import client_tls

SIZES = [int(n) for n in os.environ.get("BENCH_REACTION_SIZES", "10,100,500").split(",")]
PER_STATION_A = 16.0  # the site limit grows with the stations: 500 x 16 A < 10 kA


class StepMeter(SimulatedMeter):
    """Notes when the first read after a load step is served."""

    step_at: float | None = None
    first_step_read: float | None = None

    def values(self):  # type: ignore[no-untyped-def]
        if self.step_at is not None and self.first_step_read is None:
            self.first_step_read = time.perf_counter()
        return super().values()


def write_config(path: Path, meter_port: int, ids: list[str]) -> None:
    stations = "\n".join(
        f'[[energy.site.stations]]\nid = "{sid}"\nmax_a = {PER_STATION_A}\n' for sid in ids
    )
    path.write_text(f"""
[ocpp]
bind = "127.0.0.1"
port = 0
flood_rate = 1000.0
flood_burst = 10000

[control]
meter_interval_s = 0.2
tick_s = 1
lease_s = 600
renew_s = 300

[energy]
mode = "dynamic"
giveback = false
raise_hold_s = 0

[energy.site]
id = "site"
name = "site contract"
limit_a = {PER_STATION_A * len(ids) + 5}
metered = true
fallback_a = {PER_STATION_A * len(ids) + 5}

{stations}
[[meters]]
name = "site"
family = "sdm630"
transport = "tcp"
host = "127.0.0.1"
port = {meter_port}
unit_id = 1
role = "site"
# A site sized for hundreds of stations carries thousands of amps.
max_current_a = 10000
""")


async def station(
    url: str,
    tls: object,
    sid: str,
    limits: dict[str, list[tuple[float, float]]],
    ready: asyncio.Event,
    count: list[int],
    total: int,
) -> None:
    token = base64.b64encode(f"{sid}:{BENCH_KEY}".encode()).decode()
    async with connect(
        f"{url}/{sid}",
        ssl=tls,
        subprotocols=["ocpp1.6"],  # type: ignore[arg-type,list-item]
        additional_headers={"Authorization": f"Basic {token}"},
        compression=None,
        ping_interval=None,
        open_timeout=60,
    ) as ws:

        async def call(action: str, payload: dict[str, object]) -> None:
            await ws.send(json.dumps([2, f"{sid}-{action}", action, payload]))

        await call("BootNotification", {"chargePointVendor": "B", "chargePointModel": "R"})
        await call(
            "StartTransaction",
            {
                "connectorId": 1,
                "idTag": sid[-12:],
                "meterStart": 0,
                "timestamp": "2026-01-01T00:00:00Z",
            },
        )
        count[0] += 1
        if count[0] == total:
            ready.set()
        async for raw in ws:
            msg = json.loads(raw)
            if msg[0] == 2 and msg[2] == "SetChargingProfile":
                limit = msg[3]["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][
                    0
                ]["limit"]
                limits[sid].append((time.perf_counter(), float(limit)))
                await ws.send(json.dumps([3, msg[1], {"status": "Accepted"}]))
            elif msg[0] == 2:
                await ws.send(json.dumps([3, msg[1], {}]))


async def measure(size: int) -> dict[str, float]:
    data = Path(tempfile.mkdtemp(prefix="bench-reaction-"))
    ids = [f"R{n:05d}" for n in range(size)]
    db = open_database(data)
    repo, badges = StationRepository(db, SystemClock()), BadgeRepository(db)
    for sid in ids:
        repo.add(sid, BENCH_KEY, 2)
        badges.put(Badge(sid[-12:]))
    db.close()
    profile = LoadProfile(LoadProfileSettings(base_w=0, peak_w=0, noise_frac=0))
    meter = StepMeter(get_map("sdm630"), profile, SystemClock())
    server = SimMeterServer([meter])
    port = await server.start_tcp("127.0.0.1", 0)
    config = data / "config.toml"
    write_config(config, port, ids)
    process = subprocess.Popen(
        [sys.executable, "-m", "evsite", "run", "--config", str(config), "--data-dir", str(data)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stderr is not None
        ocpp_port = 0
        while not ocpp_port:
            line = await asyncio.to_thread(process.stderr.readline)
            if not line:
                raise RuntimeError("controller exited")
            if "OCPP wss listening on" in line:
                ocpp_port = int(line.rsplit(":", 1)[1])
        asyncio.get_running_loop().run_in_executor(None, process.stderr.read)
        limits: dict[str, list[tuple[float, float]]] = {sid: [] for sid in ids}
        ready, count = asyncio.Event(), [0]
        tls = client_tls(data)
        url = f"wss://localhost:{ocpp_port}/ocpp"
        tasks = [
            asyncio.create_task(station(url, tls, sid, limits, ready, count, size)) for sid in ids
        ]
        await asyncio.wait_for(ready.wait(), 120)
        # Settled: every station holds its full share.
        for _ in range(600):
            if all(v and v[-1][1] == PER_STATION_A for v in limits.values()):
                break
            await asyncio.sleep(0.1)
        assert cert_exists(data)
        meter.step_at = time.perf_counter()
        step = PER_STATION_A * size / 2
        meter.set_load_step((step, step, step))
        for _ in range(600):
            lowered = [
                next((t for t, a in v if t > meter.step_at and a < PER_STATION_A), None)
                for v in limits.values()
            ]
            if all(t is not None for t in lowered):
                break
            await asyncio.sleep(0.05)
        assert meter.first_step_read is not None
        delays = sorted(t - meter.first_step_read for t in lowered if t is not None)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return {
            "median": statistics.median(delays),
            "p99": delays[int(0.99 * (len(delays) - 1))],
            "last": delays[-1],
            "lowered": len(delays),
        }
    finally:
        process.kill()
        process.wait()
        await server.stop()


def cert_exists(data: Path) -> bool:
    return ocpp_tls_paths(data)[0].exists()


def main() -> None:
    """Print reaction times per size."""
    raise_fd_limit()
    print(
        "load step at the meter -> lowered limit received by every station "
        "(meter polled every 0.2 s; timed from the first read showing the step)"
    )
    print(f"{'stations':>8} {'median ms':>10} {'p99 ms':>8} {'last ms':>8} {'lowered':>8}")
    for size in SIZES:
        r = asyncio.run(measure(size))
        print(
            f"{size:>8} {r['median'] * 1000:>10.0f} {r['p99'] * 1000:>8.0f} "
            f"{r['last'] * 1000:>8.0f} {int(r['lowered']):>5}/{size}",
            flush=True,
        )
