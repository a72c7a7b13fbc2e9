"""Simulated meters: pymodbus servers (TCP or RTU) speaking the real register maps.

Each `SimulatedMeter` encodes its values from the same table the client decodes
with, so a map error cannot hide between a private encoder and decoder. Faults
are data (`{"silent": true}`, `{"exception": 2}`, `{"absurd": true}`,
`{"nan": true}`, `{"energy_backwards": true}`, `{"crc_errors": 0.2}`).
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from pymodbus.constants import ExcCodes
from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.server.base import ModbusBaseServer
from pymodbus.simulator import DataType, SimData, SimDevice

from evsite.clock import Clock
from evsite.modbus.registers import Function, Quantity, RegisterMap, encode_row
from evsite.sim.load_profile import LoadProfile, Phases


@dataclass(frozen=True)
class MeterFaults:
    """Faults a simulated meter shows; all off by default."""

    silent: bool = False
    exception: int = 0
    absurd: bool = False
    nan: bool = False
    energy_backwards: bool = False
    crc_errors: float = 0.0

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> MeterFaults:
        """Build from a site description; ValueError names the bad key."""
        known = {"silent", "exception", "absurd", "nan", "energy_backwards", "crc_errors"}
        for key in data:
            if key not in known:
                raise ValueError(f"faults.{key}: unknown fault; known: {', '.join(sorted(known))}")
        out = cls()
        for key in ("silent", "absurd", "nan", "energy_backwards"):
            if key in data:
                value = data[key]
                if not isinstance(value, bool):
                    raise ValueError(f"faults.{key}: must be true or false, not {value!r}")
                out = replace(out, **{key: value})
        if "exception" in data:
            code = data["exception"]
            if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code <= 0x0B:
                raise ValueError(
                    f"faults.exception: must be a Modbus exception code 0..11, not {code!r}"
                )
            out = replace(out, exception=code)
        if "crc_errors" in data:
            rate = data["crc_errors"]
            if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
                raise ValueError(f"faults.crc_errors: must be a fraction 0..1, not {rate!r}")
            out = replace(out, crc_errors=float(rate))
        return out


class SimulatedMeter:
    """One meter (one unit id) whose registers follow a load profile."""

    def __init__(
        self,
        regmap: RegisterMap,
        profile: LoadProfile,
        clock: Clock,
        *,
        unit_id: int = 1,
        energy_start_wh: float = 1_000_000.0,
        faults: Mapping[str, object] | None = None,
    ) -> None:
        if not 1 <= unit_id <= 247:
            raise ValueError(f"unit id {unit_id} out of range 1..247")
        self.regmap = regmap
        self.profile = profile
        self.unit_id = unit_id
        self._clock = clock
        self._energy_wh = energy_start_wh
        self._last_mono: float | None = None
        self.faults = MeterFaults.from_mapping(faults or {})
        self.reads = 0

    def set_faults(self, faults: Mapping[str, object]) -> None:
        """Replace the active faults (an empty mapping clears them)."""
        self.faults = MeterFaults.from_mapping(faults)

    def set_load_step(self, phase_a: Phases) -> None:
        """Apply a building load step per phase, seen from the next read on."""
        self.profile.set_step(phase_a)

    def values(self) -> dict[Quantity, float]:
        """The true values now (energy integrated since the last call), faults applied."""
        load = self.profile.at(self._clock.now())
        mono = self._clock.monotonic()
        if self._last_mono is not None:
            self._energy_wh += max(0.0, load.total_w) * max(0.0, mono - self._last_mono) / 3600
        self._last_mono = mono
        q = Quantity
        values = {
            q.VOLTAGE_L1: load.voltages_v[0],
            q.VOLTAGE_L2: load.voltages_v[1],
            q.VOLTAGE_L3: load.voltages_v[2],
            q.CURRENT_L1: load.currents_a[0],
            q.CURRENT_L2: load.currents_a[1],
            q.CURRENT_L3: load.currents_a[2],
            q.POWER_L1: load.powers_w[0],
            q.POWER_L2: load.powers_w[1],
            q.POWER_L3: load.powers_w[2],
            q.POWER_TOTAL: load.total_w,
            q.ENERGY_IMPORT: self._energy_wh,
        }
        f = self.faults
        if f.absurd:
            values[q.VOLTAGE_L1] = -230.0
            values[q.CURRENT_L2] = 50_000.0
        if f.nan:
            values = dict.fromkeys(values, math.nan)
        if f.energy_backwards:
            values[q.ENERGY_IMPORT] = self._energy_wh - 10_000.0
        return values

    def device(self) -> SimDevice:
        """A pymodbus device: holding and input blocks spanning the map's rows."""
        blocks: dict[Function, list[SimData]] = {}
        for fn in Function:
            rows = [r for r in self.regmap.rows if r.function is fn]
            if rows:
                start = min(r.address for r in rows)
                end = max(r.end for r in rows)
                # The whole span answers (as zeros where the table has no row):
                # real meters answer for their reserved registers too.
                blocks[fn] = [
                    SimData(start, count=end - start, values=0, datatype=DataType.REGISTERS)
                ]
            else:
                blocks[fn] = [SimData(0, datatype=DataType.INVALID)]
        bits = [SimData(0, datatype=DataType.BITS)]
        return SimDevice(
            self.unit_id,
            simdata=(bits, list(bits), blocks[Function.HOLDING], blocks[Function.INPUT]),
            action=self._action,
        )

    async def _action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        if set_values is not None:
            return ExcCodes.ILLEGAL_ADDRESS
        if self.faults.exception:
            return ExcCodes(self.faults.exception)
        try:
            fn = Function(function_code)
        except ValueError:
            return ExcCodes.ILLEGAL_FUNCTION
        self.reads += 1
        values = self.values()
        for row in self.regmap.rows:
            if row.function is fn:
                offset = row.address - start_address
                registers[offset : offset + row.dtype.width] = encode_row(row, values[row.quantity])
        return None


class SimMeterServer:
    """A pymodbus server hosting one or more simulated meters (one RS-485 line or TCP port)."""

    def __init__(self, meters: Sequence[SimulatedMeter], *, seed: int = 1) -> None:
        ids = [m.unit_id for m in meters]
        if not ids or len(set(ids)) != len(ids):
            raise ValueError(f"need at least one meter and distinct unit ids, got {ids}")
        self.meters = {m.unit_id: m for m in meters}
        self._rng = random.Random(seed)
        self._server: ModbusBaseServer | None = None
        self._unit_at = 0
        self.dropped = 0
        self.corrupted = 0
        #: ("rx"|"tx", unit id) per request received and response sent, newest last;
        #: tests use it to see that requests on one line never overlap.
        self.events: deque[tuple[str, int]] = deque(maxlen=10_000)

    async def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve Modbus TCP; returns the bound port (useful with port 0)."""
        self._unit_at = 6  # MBAP header: tid(2) pid(2) len(2) unit(1)
        server = ModbusTcpServer(
            self._devices(),
            address=(host, port),
            trace_packet=self._trace,
            trace_pdu=self._trace_pdu,
        )
        await self._serve(server)
        sockets = getattr(server.transport, "sockets", None) or []
        return int(sockets[0].getsockname()[1]) if sockets else port

    async def start_rtu(self, port: str, *, baudrate: int = 9600, parity: str = "N") -> None:
        """Serve Modbus RTU on a serial port (e.g. one end of a socat pty pair)."""
        self._unit_at = 0
        server = ModbusSerialServer(
            self._devices(),
            port=port,
            baudrate=baudrate,
            parity=parity,
            trace_packet=self._trace,
            trace_pdu=self._trace_pdu,
        )
        await self._serve(server)

    async def _serve(self, server: ModbusBaseServer) -> None:
        if self._server is not None:
            raise RuntimeError("server already started")
        await server.serve_forever(background=True)
        self._server = server

    def _devices(self) -> list[SimDevice]:
        return [m.device() for m in self.meters.values()]

    def _trace_pdu(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU:
        self.events.append(("tx" if sending else "rx", int(pdu.dev_id)))
        return pdu

    def _trace(self, sending: bool, data: bytes) -> bytes:
        if not sending or len(data) <= self._unit_at:
            return data
        meter = self.meters.get(data[self._unit_at])
        # A real bus stays silent for an absent unit id; so does a silent meter.
        if meter is None or meter.faults.silent:
            self.dropped += 1
            return b""
        if meter.faults.crc_errors and self._rng.random() < meter.faults.crc_errors:
            self.corrupted += 1
            if self._unit_at == 0:
                return data[:-1] + bytes([data[-1] ^ 0xFF])  # RTU: wrong CRC
            return data[:-1]  # TCP has no CRC: a truncated frame is the nearest damage
        return data

    async def stop(self) -> None:
        """Stop serving and release the port."""
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()  # type: ignore[no-untyped-call]
