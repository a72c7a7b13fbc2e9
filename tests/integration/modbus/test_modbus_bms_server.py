"""The BMS Modbus TCP server, driven by a pymodbus client acting as the BMS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from evsite.clock import FakeClock
from evsite.modbus import bms_map as bm
from evsite.modbus.bms import BmsServer, BmsSettings, BmsSite, BmsStation
from evsite.modbus.bms_setpoint import EffectiveSetpoint
from evsite.modbus.registers import DataType, decode


class Source:
    """A fixed snapshot, as the composition root's adapter would hand out."""

    def __init__(self) -> None:
        self.site_values = BmsSite(12345.0, (40.1, 35.0, -2.0), (230.1, 229.9, 231.0), 1.0, 63.0)
        self.station_values = [
            BmsStation("CP-NORTH-01", "Charging", 16.0, (15.9, 16.0, 15.8), 11000.0, 4321.0),
            BmsStation("CP-NORTH-02", "Available", 6.0, None, None, None),
        ]

    def site(self) -> BmsSite:
        return self.site_values

    def stations(self) -> Sequence[BmsStation]:
        return self.station_values


class Audit:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def record(self, event: str, *, actor: str = "system", source: str = "", outcome: str = "ok",
               detail: Any = None) -> None:  # fmt: skip
        self.events.append((event, source, outcome))


async def eventually(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


Started = tuple[BmsServer, AsyncModbusTcpClient, list[EffectiveSetpoint], FakeClock, Audit]


@pytest.fixture
async def started(request: pytest.FixtureRequest) -> AsyncIterator[Started]:
    allowed = getattr(request, "param", ("127.0.0.0/8",))
    clock, seen, audit = FakeClock(), list[EffectiveSetpoint](), Audit()
    settings = BmsSettings(
        host="127.0.0.1", port=0, allowed=allowed, max_stations=4, watchdog_s=30, fallback_a=20.0
    )
    server = BmsServer(
        settings, Source(), clock, on_setpoint=seen.append, audit=audit, check_interval_s=0.01
    )
    port = await server.start()
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=0.3, retries=0, reconnect_delay=0)
    await client.connect()
    yield server, client, seen, clock, audit
    client.close()
    await server.stop()


async def test_site_and_station_values_are_served(started: Started) -> None:
    _, client, *_ = started
    head = (await client.read_holding_registers(0, count=20, device_id=1)).registers
    assert head[:5] == [bm.MAP_VERSION, 4, bm.STATION_BASE, bm.STATION_STRIDE, 2]
    assert decode(DataType.INT32, "big", 1, head[10:12]) == 12345
    assert decode(DataType.INT16, "big", 0.1, head[14:15]) == pytest.approx(-2.0)
    assert head[19] == 630
    # Function 04 serves the same contents.
    same = (await client.read_input_registers(0, count=20, device_id=5)).registers
    assert same == head
    first = (await client.read_holding_registers(1000, count=32, device_id=1)).registers
    assert first[:6] == [1, int(bm.StationStateCode.CHARGING), 160, 159, 160, 158]
    assert decode(DataType.UINT32, "big", 1, first[8:10]) == 4321
    text = b"".join(r.to_bytes(2, "big") for r in first[10:20]).rstrip(b"\0").decode()
    assert text == "CP-NORTH-01"
    second = (await client.read_holding_registers(1032, count=10, device_id=1)).registers
    assert second[:4] == [1, int(bm.StationStateCode.AVAILABLE), 60, 0x7FFF]
    unused = (await client.read_holding_registers(1064, count=2, device_id=1)).registers
    assert unused == [0, 0]


async def test_setpoint_is_accepted_reported_and_read_back(started: Started) -> None:
    server, client, seen, *_ = started
    response = await client.write_register(bm.SETPOINT_ADDRESS, 320, device_id=1)
    assert not response.isError()
    assert seen == [EffectiveSetpoint(32.0, "bms")]
    control = (await client.read_holding_registers(100, count=5, device_id=1)).registers
    assert control == [320, 30, 1, 320, 30]
    assert server.watchdog.writes == 1


async def test_bad_writes_change_nothing(started: Started) -> None:
    server, client, seen, *_ = started
    too_big = await client.write_register(bm.SETPOINT_ADDRESS, 20000, device_id=1)
    assert too_big.isError() and too_big.exception_code == 3
    read_only = await client.write_register(101, 5, device_id=1)
    assert read_only.isError() and read_only.exception_code == 2
    across = await client.write_registers(bm.SETPOINT_ADDRESS, [100, 100], device_id=1)
    assert across.isError()
    assert seen == [] and server.watchdog.writes == 0
    control = (await client.read_holding_registers(100, count=4, device_id=1)).registers
    assert control == [0xFFFF, 30, 0, 200]


async def test_watchdog_drops_a_setpoint_the_bms_stops_refreshing(started: Started) -> None:
    _, client, seen, clock, _ = started
    await client.write_register(bm.SETPOINT_ADDRESS, 500, device_id=1)
    clock.advance(29)
    await client.write_register(bm.SETPOINT_ADDRESS, 500, device_id=1)  # refreshed in time
    clock.advance(29)
    await asyncio.sleep(0.05)
    assert seen == [EffectiveSetpoint(50.0, "bms")]
    clock.advance(2)
    # No read or write needed: the server's own watchdog task notices.
    await eventually(lambda: len(seen) == 2)
    assert seen[-1] == EffectiveSetpoint(20.0, "fallback")
    control = (await client.read_holding_registers(100, count=4, device_id=1)).registers
    assert control == [0xFFFF, 30, 0, 200]


@pytest.mark.parametrize("started", [("10.0.0.0/8",)], indirect=True)
async def test_client_outside_the_allowed_list_is_disconnected(started: Started) -> None:
    server, client, seen, _, audit = started
    await eventually(lambda: server.refused == 1)
    with pytest.raises(ModbusException):
        await client.write_register(bm.SETPOINT_ADDRESS, 100, device_id=1)
    assert seen == [] and server.watchdog.writes == 0
    assert audit.events[0] == ("bms_client_refused", "127.0.0.1", "denied")
