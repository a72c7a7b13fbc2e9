"""Modbus TCP server for a BMS/EMS: site and station values, and a watched site-limit setpoint.

Off unless the composition root builds and starts it. Only clients whose
address is in the allowed list are served; others are disconnected as soon as
they connect. The register layout is `evsite.modbus.bms_map`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler
from pymodbus.simulator import DataType, SimData, SimDevice

from evsite.clock import Clock
from evsite.modbus import bms_map as bm
from evsite.modbus.bms_setpoint import EffectiveSetpoint, SetpointWatchdog
from evsite.store.audit import AuditSink

log = logging.getLogger(__name__)

Phases = tuple[float, float, float]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class BmsSite:
    """Site values for the BMS; None where the controller has no value."""

    power_w: float | None
    currents_a: Phases | None
    voltages_v: Phases | None
    meter_age_s: float | None
    site_limit_a: float | None


@dataclass(frozen=True)
class BmsStation:
    """One station's values for the BMS."""

    station_id: str
    status: str
    limit_a: float | None
    currents_a: Phases | None
    power_w: float | None
    session_energy_wh: float | None


class BmsDataSource(Protocol):
    """Where the BMS server reads live values from (a snapshot, cheap to call)."""

    def site(self) -> BmsSite:
        """Current site values."""
        ...

    def stations(self) -> Sequence[BmsStation]:
        """Stations in a stable order; block i serves the i-th one."""
        ...


@dataclass(frozen=True)
class BmsSettings:
    """Settings of the BMS server (config section `bms`)."""

    host: str = "0.0.0.0"
    port: int = 502
    allowed: tuple[str, ...] = ()
    max_stations: int = 32
    watchdog_s: float = 60.0
    fallback_a: float | None = None
    max_setpoint_a: float = 1000.0
    networks: tuple[Network, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        nets: list[Network] = []
        for entry in self.allowed:
            try:
                nets.append(ipaddress.ip_network(entry, strict=False))
            except ValueError as exc:
                raise ValueError(f"allowed: {entry!r} is not an IP address or CIDR") from exc
        object.__setattr__(self, "networks", tuple(nets))
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port: {self.port} out of range")
        if not 1 <= self.max_stations <= (0xFFFF - bm.STATION_BASE) // bm.STATION_STRIDE:
            raise ValueError(f"max_stations: {self.max_stations} out of range")
        if self.watchdog_s <= 0:
            raise ValueError("watchdog_s: must be positive")
        # The setpoint register holds 0.1 A steps in a uint16 (0xFFFF means none).
        if not 0 < self.max_setpoint_a <= 6553.0:
            raise ValueError("max_setpoint_a: must be in (0, 6553] A")
        if self.fallback_a is not None and not 0 <= self.fallback_a <= self.max_setpoint_a:
            raise ValueError("fallback_a: must be within 0..max_setpoint_a")

    def allows(self, host: str) -> bool:
        """True when a peer address is inside one of the allowed networks."""
        try:
            addr = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        return any(addr in net for net in self.networks)


class _GuardedHandler(ServerRequestHandler):
    """A connection handler that refuses peers outside the allowed networks at once."""

    guard: Callable[[str], bool]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        host = str(peer[0]) if peer else ""
        if not self.guard(host):
            transport.abort()  # type: ignore[attr-defined]
            if self.listener is not None:
                self.listener.active_connections.pop(self.unique_id, None)
            return
        super().connection_made(transport)


class _GuardedTcpServer(ModbusTcpServer):
    def __init__(self, guard: Callable[[str], bool], *args: Any, **kwargs: Any) -> None:
        self._guard = guard
        super().__init__(*args, **kwargs)

    def callback_new_connection(self) -> ServerRequestHandler:
        handler = _GuardedHandler(  # type: ignore[no-untyped-call]
            self, self.trace_packet, self.trace_pdu, self.trace_connect
        )
        handler.guard = self._guard
        return handler


class BmsServer:
    """Serves the BMS register map and feeds BMS setpoints through a watchdog."""

    def __init__(
        self,
        settings: BmsSettings,
        source: BmsDataSource,
        clock: Clock,
        *,
        on_setpoint: Callable[[EffectiveSetpoint], None] | None = None,
        audit: AuditSink | None = None,
        check_interval_s: float = 0.5,
    ) -> None:
        self.settings = settings
        self._source = source
        self._audit = audit
        self._check_interval_s = check_interval_s
        self.watchdog = SetpointWatchdog(
            clock=clock,
            watchdog_s=settings.watchdog_s,
            fallback_a=settings.fallback_a,
            max_a=settings.max_setpoint_a,
            on_change=on_setpoint,
        )
        self._server: ModbusTcpServer | None = None
        self._task: asyncio.Task[None] | None = None
        self.refused = 0
        self._end = bm.STATION_BASE + settings.max_stations * bm.STATION_STRIDE

    def _guard(self, host: str) -> bool:
        if self.settings.allows(host):
            return True
        self.refused += 1
        log.warning("BMS Modbus client %s refused: not in the allowed list", host)
        if self._audit is not None:
            self._audit.record("bms_client_refused", source=host, outcome="denied")
        return False

    def _device(self) -> SimDevice:
        def block(start: int, count: int, readonly: bool = True) -> SimData:
            return SimData(
                start, count=count, values=0, datatype=DataType.REGISTERS, readonly=readonly
            )

        control_end = max(r.address + r.width for r in bm.CONTROL_ROWS)
        simdata = [
            block(0, max(r.address + r.width for r in bm.SITE_ROWS)),
            block(bm.SETPOINT_ADDRESS, 1, readonly=False),
            block(bm.SETPOINT_ADDRESS + 1, control_end - bm.SETPOINT_ADDRESS - 1),
            block(bm.STATION_BASE, self._end - bm.STATION_BASE),
        ]
        # Device id 0 answers every unit id: BMSs differ in the one they use.
        return SimDevice(0, simdata=simdata, action=self._action)

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
            return self._write(address, [int(v) for v in set_values])
        try:
            self._refresh(start_address, registers)
        except Exception:  # a broken data source must not take the server down
            log.exception("BMS data source failed")
            return ExcCodes.DEVICE_FAILURE
        return None

    def _write(self, address: int, values: list[int]) -> ExcCodes | None:
        if address != bm.SETPOINT_ADDRESS or len(values) != 1:
            return ExcCodes.ILLEGAL_ADDRESS
        try:
            self.watchdog.write(values[0] * 0.1)
        except ValueError:
            return ExcCodes.ILLEGAL_VALUE
        return None

    def _refresh(self, start: int, image: list[int]) -> None:
        site = self._source.site()
        stations = list(self._source.stations())[: self.settings.max_stations]
        effective = self.watchdog.check()
        remaining = self.watchdog.remaining_s()
        header: dict[str, float | str | None] = {
            "map_version": bm.MAP_VERSION,
            "station_slots": self.settings.max_stations,
            "station_base": bm.STATION_BASE,
            "station_stride": bm.STATION_STRIDE,
            "stations_present": len(stations),
            "site_power_w": site.power_w,
            "meter_age_s": site.meter_age_s,
            "site_limit_a": site.site_limit_a,
            "setpoint_a": effective.limit_a if effective.source == "bms" else None,
            "watchdog_s": self.settings.watchdog_s,
            "setpoint_active": 1 if effective.source == "bms" else 0,
            "effective_setpoint_a": effective.limit_a,
            "setpoint_remaining_s": remaining if remaining is not None else 0,
        }
        for i, phase in enumerate(("l1", "l2", "l3")):
            header[f"site_current_{phase}_a"] = site.currents_a[i] if site.currents_a else None
            header[f"site_voltage_{phase}_v"] = site.voltages_v[i] if site.voltages_v else None
        bm.fill(image, start, bm.SITE_ROWS, header)
        bm.fill(image, start, bm.CONTROL_ROWS, header)
        for index in range(self.settings.max_stations):
            offset = bm.STATION_BASE + index * bm.STATION_STRIDE
            if index >= len(stations):
                at = offset - start
                image[at : at + bm.STATION_STRIDE] = [0] * bm.STATION_STRIDE
                continue
            st = stations[index]
            row_values: dict[str, float | str | None] = {
                "present": 1,
                "state": int(bm.state_code(st.status)),
                "limit_a": st.limit_a,
                "power_w": st.power_w,
                "session_energy_wh": st.session_energy_wh,
                "station_id": st.station_id,
            }
            for i, phase in enumerate(("l1", "l2", "l3")):
                row_values[f"current_{phase}_a"] = st.currents_a[i] if st.currents_a else None
            bm.fill(image, start, bm.STATION_ROWS, row_values, offset=offset)

    async def start(self) -> int:
        """Start listening and the watchdog task; returns the bound port."""
        if self._server is not None:
            raise RuntimeError("BMS server already started")
        server = _GuardedTcpServer(
            self._guard, [self._device()], address=(self.settings.host, self.settings.port)
        )
        await server.serve_forever(background=True)
        self._server = server
        self._task = asyncio.create_task(self._watch(), name="bms-setpoint-watchdog")
        sockets = getattr(server.transport, "sockets", None) or []
        return int(sockets[0].getsockname()[1]) if sockets else self.settings.port

    async def _watch(self) -> None:
        # Without this, a silent BMS would only be noticed at the next read.
        while True:
            self.watchdog.check()
            await asyncio.sleep(self._check_interval_s)

    async def stop(self) -> None:
        """Stop serving and drop the BMS setpoint: with no BMS link the fallback applies."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()  # type: ignore[no-untyped-call]
        self.watchdog.clear()
