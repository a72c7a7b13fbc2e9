"""Modbus reads per second: RTU over a socat pty pair against the wire bound; TCP ours vs bare."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from pymodbus.client import AsyncModbusTcpClient

from evsite.clock import SystemClock
from evsite.modbus.bus import BITS_PER_CHAR, BusSettings, ModbusBus, rtu_gap_s
from evsite.modbus.maps import get_map
from evsite.modbus.meter import Meter
from evsite.modbus.ptypair import PtyPair
from evsite.modbus.registers import Function, plan_reads
from evsite.sim.load_profile import LoadProfile
from evsite.sim.meter import SimMeterServer, SimulatedMeter

FAMILY = "sdm630"
RUN_S = 1.5


async def rate(op: Callable[[], Awaitable[object]], run_s: float = RUN_S) -> float:
    """Operations per second of `op` run back to back for about run_s."""
    await op()  # warm up: connection, first frame
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < run_s:
        await op()
        count += 1
    return count / elapsed


def wire_bound(baud: int, registers: int, gap_s: float) -> tuple[float, float]:
    """Reads/s the line allows: request 8 bytes, response 5 + 2n bytes, 11 bits a character.

    Returns (pure wire with the 3.5-character minimum silence after each frame,
    the same with our configured inter-frame gap instead).
    """
    chars = 8 + 5 + 2 * registers
    frames_s = chars * BITS_PER_CHAR / baud
    pure = frames_s + 2 * rtu_gap_s(baud)
    ours = frames_s + rtu_gap_s(baud) + gap_s
    return 1 / pure, 1 / ours


async def bench_rtu(baud: int, directory: Path) -> None:
    """One simulated SDM630 on a pty pair; read its one 74-register block and a 2-register value."""
    clock = SystemClock()
    pair = PtyPair(directory, name=f"b{baud}")
    await pair.start()
    server = SimMeterServer([SimulatedMeter(get_map(FAMILY), LoadProfile(), clock)])
    await server.start_rtu(str(pair.b), baudrate=baud)
    bus = ModbusBus.rtu(
        str(pair.a), clock=clock, baudrate=baud, settings=BusSettings(timeout_s=1.0, retries=0)
    )
    try:
        (block,) = plan_reads(get_map(FAMILY).rows, max_gap=get_map(FAMILY).max_gap)
        for count in (block.count, 2):

            def read(c: int = count) -> Awaitable[list[int]]:
                return bus.read(1, Function.INPUT, 0, c)

            measured = await rate(read)
            pure, ours = wire_bound(baud, count, bus.gap_s)
            note = "pty faster than the wire" if measured > ours else "within the wire bound"
            print(
                f"rtu {baud:>6} baud, {count:>3} regs/read: {measured:8.1f} reads/s "
                f"({measured * count:9.0f} regs/s); wire bound {pure:7.1f} reads/s "
                f"(with our {bus.gap_s * 1000:.2f} ms gap: {ours:7.1f}); "
                f"measured/bound {measured / ours:5.2f} - {note}"
            )
    finally:
        await bus.close()
        await server.stop()
        await pair.stop()


async def bench_tcp() -> None:
    """Same 74-register read: bare pymodbus client, our bus, and a full checked Meter.read()."""
    clock = SystemClock()
    regmap = get_map(FAMILY)
    server = SimMeterServer([SimulatedMeter(regmap, LoadProfile(), clock)])
    port = await server.start_tcp()
    (block,) = plan_reads(regmap.rows, max_gap=regmap.max_gap)
    bare = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=1, retries=0, reconnect_delay=0)
    await bare.connect()
    bus = ModbusBus.tcp("127.0.0.1", port, clock=clock, settings=BusSettings(timeout_s=1.0))
    meter = Meter("bench", regmap, bus, 1, clock=clock)
    try:
        base = await rate(lambda: bare.read_input_registers(0, count=block.count, device_id=1))
        ours = await rate(lambda: bus.read(1, Function.INPUT, 0, block.count))
        checked = await rate(meter.read)
        print(f"tcp bare pymodbus client : {base:8.1f} reads/s ({block.count} regs each)")
        print(f"tcp evsite bus           : {ours:8.1f} reads/s ({ours / base:5.2f} x bare)")
        print(f"tcp evsite Meter.read()  : {checked:8.1f} samples/s ({checked / base:5.2f} x bare)")
    finally:
        bare.close()
        await bus.close()
        await server.stop()


async def run() -> None:
    """All measurements, RTU first."""
    if PtyPair.available():
        with tempfile.TemporaryDirectory(prefix="evsite-bench-") as tmp:
            for baud in (9600, 115200):
                await bench_rtu(baud, Path(tmp))
        print(
            "note: a pty does not throttle to the baud rate, so the RTU figures measure the "
            "software path (pymodbus framing, our bus, socat, the simulator) and the inter-frame "
            "gap we sleep; a real RS-485 line caps at the wire bound printed beside them"
        )
    else:
        print("rtu skipped: socat not installed (Debian package: socat)")
    await bench_tcp()


def main() -> None:
    """Print Modbus read rates; no pass/fail on absolute time."""
    asyncio.run(run())
