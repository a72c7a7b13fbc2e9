"""Web front of the real site under OCPP load: dashboard, pages and API response times with
1,000 stations and 100,000 stored sessions while the stations send MeterValues, and what
the web load costs the stations' round trips.

The site runs in its own process (tests.bench.web_site_server), the web clients in
another (tests.bench.web_load), the stations here. OCPP round trips are measured for
BENCH_WEB_SECONDS without web load, then as long again with each of two web loads:
BENCH_WEB_CLIENTS clients sending back to back, which takes every spare cycle of the
machine, then a fixed BENCH_WEB_RATE requests a second sent on schedule, which shows
what a realistic number of open browsers costs the stations rather than what a
saturated machine does. The back-to-back load against the fake facade gives the web
layer's own figures beside them; the bare bottle/cheroot baseline is
`python -m tests.bench web`.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evsite.controller import tune_tls_buffers
from evsite.web.certs import UiCertificate
from evsite.web.service import CERT_DIR
from tests.bench.ocpp_load import Station, close_all, open_stations, steady_load
from tests.bench.ocpp_servers import BENCH_KEY, raise_fd_limit
from tests.bench.site_seed import bench_station_ids
from tests.bench.web_load import ENDPOINTS
from tests.integration.ocpp.conftest import client_tls

STATIONS = int(os.environ.get("BENCH_WEB_STATIONS", "1000"))
SESSIONS = int(os.environ.get("BENCH_WEB_SESSIONS", "100000"))
SECONDS = float(os.environ.get("BENCH_WEB_SECONDS", "30"))
CLIENTS = int(os.environ.get("BENCH_WEB_CLIENTS", "4"))
# 20 requests/s: what about a hundred dashboards left open send (each polls every 5 s),
# or forty polling every 2 s.
RATE = float(os.environ.get("BENCH_WEB_RATE", "20"))
RATE_CONNECTIONS = 4  # a few keep-alive connections, as browsers and an EMS keep them
FAKE_SECONDS = min(10.0, SECONDS)
START_TIMEOUT_S = 120.0  # seeding, certificates, argon2 for the viewer on a busy machine


@dataclass
class Site:
    """A running site process and what its ready line said."""

    process: subprocess.Popen[str]
    data_dir: Path
    ocpp_port: int
    web_port: int
    cookie: str
    token: str


async def start_site(kind: str, data_dir: Path) -> Site:
    """Start a site process and wait for its ready line."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.bench.web_site_server",
            kind,
            str(data_dir),
            str(STATIONS),
            str(SESSIONS),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), START_TIMEOUT_S)
    except BaseException:
        stop(process)
        raise
    if not line.startswith("READY "):
        stop(process)
        raise RuntimeError(f"{kind} site did not start (exit {process.poll()}): {line!r}")
    _, ocpp, web, cookie, token = line.split()
    return Site(process, data_dir, int(ocpp), int(web), cookie, token)


def stop(process: subprocess.Popen[str]) -> None:
    """Close its stdin (it stops cleanly); kill it if it has not within 20 s."""
    try:
        if process.stdin is not None:
            process.stdin.close()
        process.wait(20)
    except (OSError, subprocess.TimeoutExpired):
        process.kill()
        process.wait()


async def start_web_load(site: Site, seconds: float, rate: float = 0) -> subprocess.Popen[str]:
    """Start the web clients (back to back, or `rate` a second on schedule); wait for them."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.web_load"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    config = {
        "port": site.web_port,
        "cafile": str(UiCertificate(site.data_dir / CERT_DIR).cert_path),
        "cookie": site.cookie,
        "token": site.token,
        "seconds": seconds,
        "clients": RATE_CONNECTIONS if rate > 0 else CLIENTS,
        "rate": rate,
    }
    process.stdin.write(json.dumps(config) + "\n")
    process.stdin.close()
    line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 60)
    if line.strip() != "STARTED":
        process.kill()
        process.wait()
        raise RuntimeError(f"web load did not start: {line!r}")
    return process


async def web_results(process: subprocess.Popen[str], seconds: float) -> dict[str, Any]:
    """The web clients' timings once they finish (killed if they overrun)."""
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), seconds + 60)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    result: dict[str, Any] = json.loads(line)
    return result


def take_rtts(stations: list[Station]) -> list[float]:
    """Every round trip recorded so far, in ms; the stations start a fresh record."""
    rtts = [r * 1000 for s in stations for r in s.rtts]
    for s in stations:
        s.rtts = []
    return rtts


def percentile(values: list[float], q: float) -> float:
    """The q-quantile by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class RealRun:
    """What the real site gave: OCPP round trips without and with each web load, web timings."""

    quiet_rtts: list[float]
    busy_rtts: list[float]
    web: dict[str, Any]
    paced_rtts: list[float]
    paced_web: dict[str, Any]
    connect_s: float


async def steady_beside(stations: list[Station], site: Site, rate: float = 0) -> dict[str, Any]:
    """The stations' steady load with a web load running beside it; the web timings."""
    load = await start_web_load(site, SECONDS, rate)
    try:
        await steady_load(stations, SECONDS)
    finally:
        web = await web_results(load, SECONDS)
    return web


async def measure_real(data_dir: Path) -> RealRun:
    """Stations on, steady load alone, then beside each web load in turn."""
    site = await start_site("real", data_dir)
    try:
        started = time.perf_counter()
        stations = await open_stations(
            f"wss://localhost:{site.ocpp_port}/ocpp",
            client_tls(data_dir),
            bench_station_ids(STATIONS),
            BENCH_KEY,
        )
        connect_s = time.perf_counter() - started
        try:
            await steady_load(stations, SECONDS)
            quiet = take_rtts(stations)
            web = await steady_beside(stations, site)
            busy = take_rtts(stations)
            paced_web = await steady_beside(stations, site, RATE)
            paced = take_rtts(stations)
        finally:
            await close_all(stations)
        return RealRun(quiet, busy, web, paced, paced_web, connect_s)
    finally:
        await asyncio.to_thread(stop, site.process)


async def measure_fake(data_dir: Path) -> dict[str, Any]:
    """The same web load against the fake facade (no controller, no stations)."""
    site = await start_site("fake", data_dir)
    try:
        load = await start_web_load(site, FAKE_SECONDS)
        return await web_results(load, FAKE_SECONDS)
    finally:
        await asyncio.to_thread(stop, site.process)


def _cells(ms: list[float]) -> str:
    if not ms:
        return f"{'-':>8} {'-':>8} {0:>6}"
    return f"{statistics.median(ms):>8.2f} {percentile(ms, 0.99):>8.2f} {len(ms):>6}"


def report(real: RealRun, fake: dict[str, Any]) -> None:
    """Print the web table, then the OCPP round trips and the slowdown."""
    print(
        f"\nweb: {CLIENTS} clients back-to-back on keep-alive TLS, endpoints in turn; "
        f"real site {SECONDS:.0f} s under OCPP load, fake facade {FAKE_SECONDS:.0f} s alone"
    )
    print(
        f"{'endpoint':<30} {'real p50':>8} {'p99 ms':>8} {'reqs':>6}   "
        f"{'fake p50':>8} {'p99 ms':>8} {'reqs':>6}"
    )
    for name, _, _ in ENDPOINTS:
        print(f"{name:<30} {_cells(real.web['times'][name])}   {_cells(fake['times'][name])}")
    for label, result in (("real", real.web), ("fake", fake)):
        if result["errors"]:
            print(f"{label}: {result['errors']} failed requests, e.g. {result['error_samples']}")
    quiet, busy = real.quiet_rtts, real.busy_rtts
    print(
        f"\nOCPP: {STATIONS} stations (connected in {real.connect_s:.1f} s), MeterValues every "
        f"10 s each (+status), {SECONDS:.0f} s per row"
    )
    print(f"{'OCPP round trip':<30} {'p50 ms':>8} {'p99 ms':>8} {'msgs':>6}")
    print(f"{'without web load':<30} {_cells(quiet)}")
    print(f"{'with back-to-back web load':<30} {_cells(busy)}")
    _ratio(quiet, busy)


def _ratio(quiet: list[float], loaded: list[float]) -> None:
    if quiet and loaded:
        p50 = statistics.median(loaded) / statistics.median(quiet)
        p99 = percentile(loaded, 0.99) / percentile(quiet, 0.99)
        print(f"{'slowdown (with / without)':<30} {p50:>7.2f}x {p99:>7.2f}x")


def report_paced(real: RealRun) -> None:
    """Print the fixed-rate web table and the OCPP round trips beside that load."""
    web = real.paced_web
    print(
        f"\nweb at a fixed rate: {RATE:g} requests/s in all, sent on schedule over "
        f"{RATE_CONNECTIONS} keep-alive TLS connections, endpoints in turn; real site "
        f"{SECONDS:.0f} s under OCPP load\ntimes from each request's due time, so waiting "
        f"for a free connection counts; {web['sent']} of {web['due']} due requests sent"
    )
    print(f"{'endpoint':<30} {'real p50':>8} {'p99 ms':>8} {'reqs':>6}")
    for name, _, _ in ENDPOINTS:
        print(f"{name:<30} {_cells(web['times'][name])}")
    if web["errors"]:
        print(f"real: {web['errors']} failed requests, e.g. {web['error_samples']}")
    print(f"\n{'OCPP round trip':<30} {'p50 ms':>8} {'p99 ms':>8} {'msgs':>6}")
    print(f"{'without web load (as above)':<30} {_cells(real.quiet_rtts)}")
    print(f"{f'with {RATE:g} req/s web load':<30} {_cells(real.paced_rtts)}")
    _ratio(real.quiet_rtts, real.paced_rtts)


def main() -> None:
    """Measure the real site, then the fake facade, and print both (numbers only)."""
    raise_fd_limit()
    tune_tls_buffers()  # the client side too, as in the OCPP benchmark
    print(
        f"site: {STATIONS} enrolled stations, {SESSIONS} stored sessions over 12 weeks; "
        "bare bottle/cheroot baseline: python -m tests.bench web"
    )
    real_dir = Path(tempfile.mkdtemp(prefix="bench-web-site-"))
    fake_dir = Path(tempfile.mkdtemp(prefix="bench-web-fake-"))
    try:
        real = asyncio.run(measure_real(real_dir))
        fake = asyncio.run(measure_fake(fake_dir))
        report(real, fake)
        report_paced(real)
    finally:
        shutil.rmtree(real_dir, ignore_errors=True)
        shutil.rmtree(fake_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
