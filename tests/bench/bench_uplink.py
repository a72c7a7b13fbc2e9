"""Uplink benchmark: latency the relay adds, and how fast an outbox drains.

Relay: N stations send DataTransfer round trips (relayed verbatim) at a fixed
total rate, once through evsite in proxy mode and once straight to the same
simulated CSMS, in the same run; p50/p99 of both and their difference.
Replay: 100,000 journaled messages over 100 identities drained to a CSMS that
answers at once, as messages per second. The CSMS and evsite each run as their
own process; the stations run here.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

from evsite.clock import SystemClock
from evsite.config import parse_settings
from evsite.controller import Controller, ocpp_tls_paths
from evsite.store.audit import AuditLog
from evsite.store.badges import BadgeRepository
from evsite.store.commit import GroupCommitter
from evsite.store.db import open_database
from evsite.uplink.credentials import CredentialStore
from evsite.uplink.outbox import Outbox
from evsite.uplink.schema import UPLINK_MIGRATIONS
from evsite.uplink.service import Uplink
from evsite.uplink.settings import parse_uplink_settings
from tests.bench.ocpp_servers import BENCH_KEY, raise_fd_limit
from tests.integration.ocpp.conftest import basic

SIZES = [int(n) for n in os.environ.get("BENCH_UPLINK_SIZES", "100,500").split(",")]
SECONDS = float(os.environ.get("BENCH_UPLINK_SECONDS", "10"))
RATE = 100.0  # total requests per second offered, whatever the number of stations
REPLAY_MESSAGES = int(os.environ.get("BENCH_UPLINK_REPLAY", "100000"))
REPLAY_IDENTITIES = 100
PASSWORD = "bench-upstream-password-0123"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def start_csms(directory: Path) -> tuple[subprocess.Popen[str], int, Path]:
    process = subprocess.Popen(
        [sys.executable, "-m", "evsite.sim.csms", str(directory)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    words = process.stdout.readline().split()
    return process, int(words[1]), Path(words[3])


def uplink_table(csms_port: int, ca: Path) -> dict[str, object]:
    return {
        "mode": "proxy",
        "ca_bank": str(ca),
        "connect_rate": 200.0,
        "csms": {"url": f"wss://localhost:{csms_port}/ocpp"},
    }


async def serve_evsite(data_dir: Path, csms_port: int, ca: Path, stations: int) -> None:
    """The proxy under test (its own process)."""
    raise_fd_limit()
    settings = parse_settings(
        {
            "ocpp": {"bind": "127.0.0.1", "port": 0, "flood_rate": 1000.0, "flood_burst": 10000},
            "uplink": uplink_table(csms_port, ca),
        }
    )
    controller = Controller(settings, data_dir, SystemClock())
    uplink = controller.uplink
    for n in range(stations):
        station_id = f"U{n:05d}"
        if not controller.stations.exists(station_id):
            controller.stations.add(station_id, BENCH_KEY, 2)
            uplink.credentials.set_password(station_id, PASSWORD)
    ports = await controller.start()
    print(f"READY {ports.ocpp_tls}", flush=True)
    await asyncio.Future()


async def round_trips(
    urls: list[str], tls: ssl.SSLContext, headers: list[dict[str, str]], seconds: float
) -> list[float]:
    """Each station sends DataTransfer at RATE/len(urls) per second; return all round trips."""
    interval = len(urls) / RATE
    rtts: list[float] = []
    counter = itertools.count()

    async def exchange(ws: ClientConnection) -> float:
        unique_id = f"b{next(counter)}"
        started = time.perf_counter()
        await ws.send(json.dumps([2, unique_id, "DataTransfer", {"vendorId": "bench"}]))
        while json.loads(await ws.recv())[1] != unique_id:
            pass
        return time.perf_counter() - started

    async def station(url: str, header: dict[str, str], rng: random.Random) -> None:
        async with connect(
            url,
            ssl=tls,
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            additional_headers=header,
            compression=None,
            open_timeout=60,
        ) as ws:
            await exchange(ws)  # warm-up: brings the upstream link up
            await ready.wait()
            await asyncio.sleep(rng.uniform(0, interval))
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                rtts.append(await exchange(ws))
                await asyncio.sleep(interval)
            await done.wait()

    ready, done = asyncio.Event(), asyncio.Event()
    rng = random.Random(1)
    tasks = []
    for url, header in zip(urls, headers, strict=True):
        tasks.append(asyncio.create_task(station(url, header, random.Random(rng.random()))))
        await asyncio.sleep(0.002)  # connect at a pace the pacer would allow anyway
    await asyncio.sleep(2.0)
    ready.set()
    await asyncio.sleep(seconds + 1)
    done.set()
    await asyncio.gather(*tasks)
    return rtts


async def relay_latency(stations: int) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="bench-uplink-"))
    csms, csms_port, ca = start_csms(work / "pki")
    data_dir = work / "data"
    evsite = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.bench.bench_uplink",
            str(data_dir),
            str(csms_port),
            str(ca),
            str(stations),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert evsite.stdout is not None
        evsite_port = int(evsite.stdout.readline().split()[1])
        ids = [f"U{n:05d}" for n in range(stations)]
        direct_tls = ssl.create_default_context(cafile=str(ca))
        direct = await round_trips(
            [f"wss://localhost:{csms_port}/ocpp/D{i}" for i in ids],
            direct_tls,
            [{} for _ in ids],
            SECONDS,
        )
        cert, _ = ocpp_tls_paths(data_dir)
        proxied = await round_trips(
            [f"wss://localhost:{evsite_port}/ocpp/{i}" for i in ids],
            ssl.create_default_context(cafile=str(cert)),
            [basic(i, BENCH_KEY) for i in ids],
            SECONDS,
        )
    finally:
        evsite.kill()
        csms.kill()
        evsite.wait()
        csms.wait()
    return {
        "direct_p50_ms": percentile(direct, 0.5) * 1000,
        "direct_p99_ms": percentile(direct, 0.99) * 1000,
        "evsite_p50_ms": percentile(proxied, 0.5) * 1000,
        "evsite_p99_ms": percentile(proxied, 0.99) * 1000,
        "added_p50_ms": (percentile(proxied, 0.5) - percentile(direct, 0.5)) * 1000,
        "added_p99_ms": (percentile(proxied, 0.99) - percentile(direct, 0.99)) * 1000,
        "samples": float(len(proxied)),
    }


async def replay_rate() -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    csms, csms_port, ca = start_csms(work / "pki")
    clock = SystemClock()
    db = open_database(work / "data", extra={"uplink": UPLINK_MIGRATIONS})
    writer = GroupCommitter(db)
    try:
        settings = parse_uplink_settings({"uplink": uplink_table(csms_port, ca)})
        credentials = CredentialStore(db, clock)
        identities = [f"R{n:04d}" for n in range(REPLAY_IDENTITIES)]
        for identity in identities:
            credentials.set_password(identity, PASSWORD)
        outbox = Outbox(db, writer, clock)
        per = REPLAY_MESSAGES // REPLAY_IDENTITIES
        with db.transaction() as conn:
            for identity in identities:
                for n in range(per):
                    unique_id = f"{identity}-{n}"
                    payload = {
                        "connectorId": 1,
                        "transactionId": 7,
                        "meterValue": [
                            {
                                "timestamp": "2026-01-01T00:00:00Z",
                                "sampledValue": [{"value": str(n)}],
                            }
                        ],
                    }
                    frame = json.dumps([2, unique_id, "MeterValues", payload])
                    outbox.insert_sql(conn, identity, unique_id, "MeterValues", frame, 7)
        queued = per * REPLAY_IDENTITIES
        uplink = Uplink(settings, db, writer, AuditLog(db, clock), BadgeRepository(db), clock)
        started = time.perf_counter()
        await uplink.start()
        while uplink.outbox.pending_count():
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        await uplink.stop()
    finally:
        writer.close()
        db.close()
        csms.kill()
        csms.wait()
    return {"messages": float(queued), "seconds": elapsed, "msgs_per_s": queued / elapsed}


def main() -> None:
    """Print the relay's added latency for each size, then the replay rate."""
    raise_fd_limit()
    for stations in SIZES:
        figures = asyncio.run(relay_latency(stations))
        print(f"relay stations={stations} " + " ".join(f"{k}={v:.2f}" for k, v in figures.items()))
    figures = asyncio.run(replay_rate())
    print(
        f"replay identities={REPLAY_IDENTITIES} "
        + " ".join(f"{k}={v:.1f}" for k, v in figures.items())
    )


if __name__ == "__main__":
    data_dir, csms_port, ca, stations = sys.argv[1:5]
    asyncio.run(serve_evsite(Path(data_dir), int(csms_port), Path(ca), int(stations)))
