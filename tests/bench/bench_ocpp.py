"""OCPP station server under load: evsite against a bare `ocpp`-library central system.

For N stations over WSS: round-trip median/p99 under steady MeterValues load,
saturation throughput, and server RSS per idle connection — each figure printed
beside the bare library's on the same load in the same run.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from evsite.controller import ocpp_tls_paths, tune_tls_buffers
from tests.bench.ocpp_load import close_all, open_stations, saturate, steady_load
from tests.bench.ocpp_servers import BENCH_KEY, raise_fd_limit
from tests.integration.ocpp.conftest import client_tls

SIZES = [int(n) for n in os.environ.get("BENCH_OCPP_SIZES", "100,500,1000").split(",")]
STEADY_SECONDS = float(os.environ.get("BENCH_OCPP_SECONDS", "30"))
SATURATE_SECONDS = 5.0
SATURATE_STATIONS = 50


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(kind: str, stations: int) -> dict[str, float]:
    data_dir = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-"))
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.ocpp_servers", kind, str(data_dir), str(stations)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        ready = await asyncio.to_thread(server.stdout.readline)
        port = int(ready.split()[1])
        await asyncio.sleep(0.5)
        rss_before = rss_kib(server.pid)
        cert, _ = ocpp_tls_paths(data_dir)
        tls = client_tls(data_dir)
        ids = [f"B{n:05d}" for n in range(stations)]
        started = time.perf_counter()
        opened = await open_stations(f"wss://localhost:{port}/ocpp", tls, ids, BENCH_KEY)
        connect_s = time.perf_counter() - started
        rss_idle = rss_kib(server.pid)
        sent = await steady_load(opened, STEADY_SECONDS)
        rtts = [r for s in opened for r in s.rtts]
        saturated = await saturate(opened[:SATURATE_STATIONS], SATURATE_SECONDS)
        await close_all(opened)
        assert cert.exists()
        return {
            "connect_s": connect_s,
            "rss_per_station_kib": (rss_idle - rss_before) / stations,
            "rtt_median_ms": statistics.median(rtts) * 1000,
            "rtt_p99_ms": percentile(rtts, 0.99) * 1000,
            "steady_msgs": sent,
            "msgs_per_s": saturated / SATURATE_SECONDS,
        }
    finally:
        server.kill()
        server.wait()


def main() -> None:
    """Run each size against both servers and print the comparison."""
    raise_fd_limit()
    tune_tls_buffers()  # the client side too, or the load generator runs out of memory first
    print(
        f"steady load: MeterValues every 10 s per station (+status), {STEADY_SECONDS:.0f} s; "
        f"saturation: {SATURATE_STATIONS} stations back-to-back for {SATURATE_SECONDS:.0f} s"
    )
    header = (
        f"{'stations':>8} {'server':>7} {'connect s':>9} {'RTT p50 ms':>10} "
        f"{'RTT p99 ms':>10} {'msg/s max':>9} {'RSS/stn KiB':>11}"
    )
    print(header)
    for size in SIZES:
        results = {}
        for kind in ("bare", "evsite"):
            r = asyncio.run(measure(kind, size))
            results[kind] = r
            print(
                f"{size:>8} {kind:>7} {r['connect_s']:>9.1f} {r['rtt_median_ms']:>10.2f} "
                f"{r['rtt_p99_ms']:>10.2f} {r['msgs_per_s']:>9.0f} "
                f"{r['rss_per_station_kib']:>11.1f}",
                flush=True,
            )
        ratio = results["evsite"]["msgs_per_s"] / results["bare"]["msgs_per_s"]
        print(f"{size:>8} evsite/bare throughput ratio: {ratio:.2f}")
