"""Meters read end to end against simulated meters, over TCP and RTU; bad data is rejected."""

from __future__ import annotations

import asyncio

import pytest

from evsite.clock import FakeClock
from evsite.modbus.bus import BusSettings
from evsite.modbus.maps import FAMILIES
from evsite.modbus.meter import Meter, MeterReadError, Plausibility
from evsite.modbus.registers import Quantity, decode_row, encode_row
from evsite.sim.load_profile import LoadProfile
from evsite.sim.meter import SimulatedMeter
from tests.integration.modbus.conftest import OpenLine

Q = Quantity


def sim(family: str, clock: FakeClock, unit_id: int = 1, **kw: object) -> SimulatedMeter:
    return SimulatedMeter(FAMILIES[family], LoadProfile(), clock, unit_id=unit_id, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("family", sorted(FAMILIES))
async def test_every_family_reads_what_the_meter_holds(
    open_line: OpenLine, clock: FakeClock, family: str
) -> None:
    meter_sim = sim(family, clock)
    _, bus = await open_line([meter_sim])
    meter = Meter("site", FAMILIES[family], bus, 1, clock=clock)
    sample = await meter.read()
    truth = meter_sim.values()

    def wire(q: Quantity) -> float:
        # What the meter can express: the true value through its own encoding.
        row = FAMILIES[family].row(q)
        assert row is not None
        return decode_row(row, encode_row(row, truth[q]))

    assert sample.voltages_v == tuple(wire(q) for q in (Q.VOLTAGE_L1, Q.VOLTAGE_L2, Q.VOLTAGE_L3))
    assert sample.currents_a == tuple(wire(q) for q in (Q.CURRENT_L1, Q.CURRENT_L2, Q.CURRENT_L3))
    assert sample.phase_power_w == tuple(wire(q) for q in (Q.POWER_L1, Q.POWER_L2, Q.POWER_L3))
    assert sample.power_w == wire(Q.POWER_TOTAL)
    assert sample.energy_import_wh == wire(Q.ENERGY_IMPORT)
    assert sample.currents_a[0] == pytest.approx(truth[Q.CURRENT_L1], abs=0.01)
    assert sample.timestamp == clock.now()
    assert meter.counters["ok"] == 1 and meter.age_s() == 0.0


async def test_silent_meter_times_out_is_counted_and_goes_stale(
    open_line: OpenLine, clock: FakeClock
) -> None:
    meter_sim = sim("sdm630", clock)
    _, bus = await open_line([meter_sim], BusSettings(timeout_s=0.2, retries=1))
    meter = Meter("site", FAMILIES["sdm630"], bus, 1, clock=clock)
    first = await meter.read()
    meter_sim.set_faults({"silent": True})
    clock.advance(5)
    with pytest.raises(MeterReadError) as info:
        await meter.read()
    assert info.value.kind == "timeout"
    assert meter.counters["timeout"] == 1
    assert bus.counters["timeout"] == 2 and bus.counters["retries"] == 1
    assert meter.age_s() == 5.0 and meter.is_stale(3.0) and not meter.is_stale(10.0)
    assert meter.last_good is first
    meter_sim.set_faults({})
    await meter.read()
    assert meter.age_s() == 0.0 and meter.last_error is None


async def test_exception_response_is_counted_not_retried(
    open_line: OpenLine, clock: FakeClock
) -> None:
    meter_sim = sim("em24", clock, faults={"exception": 2})
    _, bus = await open_line([meter_sim], BusSettings(timeout_s=0.3, retries=2))
    meter = Meter("site", FAMILIES["em24"], bus, 1, clock=clock)
    with pytest.raises(MeterReadError, match="exception 2") as info:
        await meter.read()
    assert info.value.kind == "exception"
    assert meter.counters["exception"] == 1
    assert bus.counters["retries"] == 0
    assert meter.age_s() is None and meter.is_stale(1000)


@pytest.mark.parametrize(
    ("family", "fault", "kind"),
    [
        ("sdm630", "absurd", "implausible"),
        ("abb_b23", "absurd", "implausible"),
        ("sdm630", "nan", "nan"),
        ("abb_b23", "nan", "nan"),
    ],
)
async def test_absurd_and_nan_values_are_rejected(
    open_line: OpenLine, clock: FakeClock, family: str, fault: str, kind: str
) -> None:
    meter_sim = sim(family, clock, faults={fault: True})
    _, bus = await open_line([meter_sim])
    meter = Meter("site", FAMILIES[family], bus, 1, clock=clock)
    with pytest.raises(MeterReadError) as info:
        await meter.read()
    assert info.value.kind == kind
    assert meter.counters[kind] == 1 and meter.counters["ok"] == 0
    assert meter.last_good is None


async def test_current_above_the_configured_bound_is_rejected(
    open_line: OpenLine, clock: FakeClock
) -> None:
    meter_sim = sim("iem3155", clock)
    meter_sim.set_load_step((200.0, 0.0, 0.0))
    _, bus = await open_line([meter_sim])
    meter = Meter(
        "site",
        FAMILIES["iem3155"],
        bus,
        1,
        clock=clock,
        plausibility=Plausibility(max_current_a=100),
    )
    with pytest.raises(MeterReadError, match="current_l1"):
        await meter.read()


async def test_energy_going_backwards_is_rejected_until_it_is_consistent(
    open_line: OpenLine, clock: FakeClock
) -> None:
    meter_sim = sim("sdm630", clock)
    _, bus = await open_line([meter_sim])
    meter = Meter(
        "site", FAMILIES["sdm630"], bus, 1, clock=clock,
        plausibility=Plausibility(energy_rebase_after=3),
    )  # fmt: skip
    await meter.read()
    meter_sim.set_faults({"energy_backwards": True})
    for _ in range(2):
        with pytest.raises(MeterReadError) as info:
            await meter.read()
        assert info.value.kind == "energy_backwards"
    # The third consistent lower reading is taken as a reset meter.
    sample = await meter.read()
    assert meter.counters["energy_backwards"] == 2 and meter.counters["energy_rebased"] == 1
    meter_sim.set_faults({})
    assert (await meter.read()).energy_import_wh > sample.energy_import_wh


async def test_garbled_frames_count_as_crc_errors(open_line: OpenLine, clock: FakeClock) -> None:
    meter_sim = sim("abb_b23", clock, faults={"crc_errors": 1.0})
    server, bus = await open_line([meter_sim], BusSettings(timeout_s=0.2, retries=1))
    meter = Meter("site", FAMILIES["abb_b23"], bus, 1, clock=clock)
    with pytest.raises(MeterReadError) as info:
        await meter.read()
    assert info.value.kind == "crc"
    assert bus.counters["crc"] == 2 and server.corrupted == 2
    meter_sim.set_faults({})
    await meter.read()


async def test_two_meters_on_one_line_never_overlap(open_line: OpenLine, clock: FakeClock) -> None:
    a, b = sim("sdm630", clock, unit_id=1), sim("em24", clock, unit_id=7)
    server, bus = await open_line([a, b])
    meter_a = Meter("a", FAMILIES["sdm630"], bus, 1, clock=clock)
    meter_b = Meter("b", FAMILIES["em24"], bus, 7, clock=clock)
    samples = await asyncio.gather(*[m.read() for _ in range(10) for m in (meter_a, meter_b)])
    assert [s.meter for s in samples] == ["a", "b"] * 10
    assert bus.counters["ok"] == bus.counters["requests"] == 20
    events = list(server.events)
    assert len(events) == 40
    # Strict request/response alternation: a request only after the last answer.
    for (rx, unit_rx), (tx, unit_tx) in zip(events[::2], events[1::2], strict=True):
        assert (rx, tx) == ("rx", "tx") and unit_rx == unit_tx


async def test_absent_unit_id_is_a_timeout(open_line: OpenLine, clock: FakeClock) -> None:
    _, bus = await open_line(
        [sim("sdm630", clock, unit_id=1)], BusSettings(timeout_s=0.2, retries=0)
    )
    meter = Meter("ghost", FAMILIES["sdm630"], bus, 9, clock=clock)
    with pytest.raises(MeterReadError) as info:
        await meter.read()
    assert info.value.kind == "timeout"


async def test_endpoint_gone_is_reported_as_disconnected(clock: FakeClock) -> None:
    from evsite.modbus.bus import ModbusBus
    from evsite.sim.meter import SimMeterServer

    server = SimMeterServer([sim("sdm630", clock)])
    port = await server.start_tcp()
    bus = ModbusBus.tcp(
        "127.0.0.1", port, clock=clock, settings=BusSettings(timeout_s=0.3, retries=0)
    )
    meter = Meter("site", FAMILIES["sdm630"], bus, 1, clock=clock)
    await meter.read()
    await server.stop()
    with pytest.raises(MeterReadError) as info:
        for _ in range(3):  # the client may need one request to notice the closed socket
            await meter.read()
    assert info.value.kind in ("disconnected", "timeout")
    assert meter.counters["disconnected"] + meter.counters["timeout"] >= 1
    await bus.close()
