"""Fixtures: simulated meters served over TCP on 127.0.0.1 or RTU over a socat pty pair."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

import pytest

from evsite.clock import FakeClock
from evsite.modbus.bus import BusSettings, ModbusBus
from evsite.modbus.ptypair import PtyPair
from evsite.sim.meter import SimMeterServer, SimulatedMeter

OpenLine = Callable[..., Awaitable[tuple[SimMeterServer, ModbusBus]]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["tcp", "rtu"])
async def open_line(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[OpenLine]:
    """A factory: serve simulated meters on a fresh line and return (server, client bus)."""
    transport = request.param
    cleanup: list[Callable[[], Awaitable[None]]] = []
    if transport == "rtu" and not PtyPair.available():
        pytest.skip("RTU tests need socat (Debian package: socat)")

    async def open_(
        sims: Sequence[SimulatedMeter], settings: BusSettings | None = None, baud: int = 115200
    ) -> tuple[SimMeterServer, ModbusBus]:
        settings = settings or BusSettings(timeout_s=0.3, retries=0)
        server = SimMeterServer(sims)
        if transport == "tcp":
            port = await server.start_tcp()
            bus = ModbusBus.tcp("127.0.0.1", port, clock=clock, settings=settings)
        else:
            pair = PtyPair(tmp_path, name=f"tty{len(cleanup)}")
            await pair.start()
            cleanup.append(pair.stop)
            await server.start_rtu(str(pair.b), baudrate=baud)
            bus = ModbusBus.rtu(str(pair.a), clock=clock, baudrate=baud, settings=settings)
        cleanup.append(server.stop)
        cleanup.append(bus.close)
        return server, bus

    open_.transport = transport  # type: ignore[attr-defined]
    yield open_
    for step in reversed(cleanup):
        await step()
