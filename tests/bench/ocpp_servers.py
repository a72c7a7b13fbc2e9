"""The two central systems the OCPP benchmark compares, each run as its own process.

`evsite`: the real controller (auth, validation, SQLite, events).
`bare`: the `ocpp` library's ChargePoint on a websockets server with the same TLS
certificate and the same handlers' answers, no authentication and no storage.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from websockets.asyncio.server import ServerConnection, serve

from evsite.clock import SystemClock
from evsite.config import parse_settings
from evsite.controller import Controller, ocpp_tls_paths, tune_tls_buffers
from evsite.tls import ensure_self_signed, server_context

BENCH_KEY = "bench-key-0123456789abcdef0123456789ab"


def raise_fd_limit() -> None:
    """Thousands of sockets need more than the default 1,024 descriptors."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class BareCentral(ChargePoint):  # type: ignore[misc]
    """The library's own central system, answering like evsite does."""

    @on("BootNotification")
    def boot(self, **_: Any) -> call_result.BootNotification:
        return call_result.BootNotification(current_time=_now(), interval=300, status="Accepted")

    @on("StatusNotification")
    def status(self, **_: Any) -> call_result.StatusNotification:
        return call_result.StatusNotification()

    @on("MeterValues")
    def meter_values(self, **_: Any) -> call_result.MeterValues:
        return call_result.MeterValues()

    @on("Heartbeat")
    def heartbeat(self) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=_now())


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


async def run_bare(data_dir: Path, port: int) -> None:
    cert, key = ocpp_tls_paths(data_dir)
    ensure_self_signed(cert, key, "localhost", ["localhost"], ["127.0.0.1"])

    async def handler(connection: ServerConnection) -> None:
        assert connection.request is not None
        station_id = connection.request.path.rsplit("/", 1)[-1]
        try:
            await BareCentral(station_id, connection).start()
        except Exception:  # noqa: S110 - a closed connection ends the handler
            pass

    async with serve(
        handler,
        "127.0.0.1",
        port,
        ssl=server_context(cert, key),
        subprotocols=["ocpp1.6"],
        compression=None,  # type: ignore[list-item]
        max_size=65536,
    ) as server:
        print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
        await asyncio.Future()


async def run_evsite(data_dir: Path, port: int, stations: int) -> None:
    settings = parse_settings(
        {"ocpp": {"bind": "127.0.0.1", "port": port, "flood_rate": 1000.0, "flood_burst": 10000}}
    )
    controller = Controller(settings, data_dir, SystemClock())
    for n in range(stations):
        station_id = f"B{n:05d}"
        if not controller.stations.exists(station_id):
            controller.stations.add(station_id, BENCH_KEY, 2)
    ports = await controller.start()
    print(f"READY {ports.ocpp_tls}", flush=True)
    await asyncio.Future()


def main() -> None:
    """Entry: python -m tests.bench.ocpp_servers evsite|bare DATA_DIR STATIONS [--tune-tls]."""
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=("evsite", "bare"))
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("stations", type=int)
    parser.add_argument("--tune-tls", action="store_true")
    args = parser.parse_args()
    raise_fd_limit()
    if args.tune_tls:
        tune_tls_buffers()
    if args.kind == "bare":
        asyncio.run(run_bare(args.data_dir, 0))
    else:
        asyncio.run(run_evsite(args.data_dir, 0, args.stations))


if __name__ == "__main__":
    sys.exit(main())
