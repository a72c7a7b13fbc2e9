"""Wires load management into the running controller: meters, control loop, BMS server.

Meters feed the control loop with readings for the circuit nodes they measure;
the station server's events feed it sessions; its limits leave as charging
profiles. The BMS server reads the same state and may set a site limit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evsite.clock import Clock
from evsite.config_errors import ConfigError
from evsite.energy.control import ControlLoop, ControlSettings
from evsite.energy.layout import parse_energy
from evsite.energy.model import CircuitTree
from evsite.energy.settings import Settings as EnergySettings
from evsite.modbus.bms import BmsServer, BmsSettings, BmsSite, BmsStation
from evsite.modbus.bms_setpoint import EffectiveSetpoint
from evsite.modbus.meter import Meter, MeterSample
from evsite.modbus.poller import MeterPoller
from evsite.modbus.settings import MeterConfig, build_meters, parse_bms, parse_meters
from evsite.ocpp.commands import StationCommands
from evsite.ocpp.events import (
    Event,
    EventBus,
    MeterSampled,
    StationConnected,
    StationDisconnected,
    TransactionStarted,
    TransactionStopped,
)
from evsite.ocpp.smart_charging import ProfileSender
from evsite.ocpp.state import LiveState
from evsite.store.audit import AuditSink

log = logging.getLogger("evsite.energy")


@dataclass(frozen=True)
class LoadSettings:
    """Everything load management reads from the configuration, validated up front."""

    tree: CircuitTree | None
    energy: EnergySettings
    control: ControlSettings
    meters: list[MeterConfig]
    meter_interval_s: float
    bms: BmsSettings | None


_CONTROL_KEYS = {
    "safe_current_a",
    "lease_s",
    "renew_s",
    "stale_after_s",
    "tick_s",
    "meter_interval_s",
}


def parse_load_settings(raw: Mapping[str, Any]) -> LoadSettings:
    """Validate [energy], [control], meters and [bms]; ConfigError names the first bad key."""
    tree, energy = parse_energy(raw)
    table = raw.get("control", {})
    if not isinstance(table, Mapping):
        raise ConfigError("control", "must be a table")
    unknown = set(table) - _CONTROL_KEYS
    if unknown:
        raise ConfigError(f"control.{sorted(unknown)[0]}", "unknown setting")
    values: dict[str, float] = {}
    for key in _CONTROL_KEYS & set(table):
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"control.{key}", "must be a number >= 0")
        values[key] = float(value)
    interval = values.pop("meter_interval_s", 1.0)
    control = ControlSettings(**values)
    if control.renew_s >= control.lease_s:
        raise ConfigError("control.renew_s", "must be shorter than lease_s, or leases lapse")
    if interval <= 0:
        raise ConfigError("control.meter_interval_s", "must be > 0")
    meters = parse_meters(raw.get("meters"))
    for n, meter in enumerate(meters):
        node = meter_node(meter, tree)
        if tree is not None and node not in tree.node_index:
            raise ConfigError(f"meters[{n}].role", f"no circuit node {node!r} to measure")
    return LoadSettings(tree, energy, control, meters, interval, parse_bms(raw.get("bms")))


def meter_node(meter: MeterConfig, tree: CircuitTree | None) -> str:
    """The circuit node a meter measures: the site's root, or a named feeder."""
    if meter.role == "site":
        return tree.root.id if tree is not None else "site"
    return meter.role.split(":", 1)[1]


class LoadManagement:
    """The running load manager of one controller."""

    def __init__(
        self,
        settings: LoadSettings,
        clock: Clock,
        events: EventBus,
        live: LiveState,
        commands: StationCommands,
        audit: AuditSink,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._live = live
        self._audit = audit
        self.sender = ProfileSender(commands, clock)
        self.loop: ControlLoop | None = None
        if settings.tree is not None:
            self.loop = ControlLoop(
                settings.tree, settings.energy, settings.control, clock, self.sender, audit
            )
            events.subscribe(self._on_event)
        self.meters: list[Meter] = []
        self.last_samples: dict[str, MeterSample] = {}
        self.bms: BmsServer | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def _on_event(self, event: Event) -> None:
        loop = self.loop
        assert loop is not None
        if isinstance(event, StationConnected):
            loop.station_connected(event.station_id)
        elif isinstance(event, StationDisconnected):
            loop.station_disconnected(event.station_id)
        elif isinstance(event, TransactionStarted):
            loop.session_started(event.station_id, event.vip)
        elif isinstance(event, TransactionStopped):
            loop.session_stopped(event.station_id)
        elif isinstance(event, MeterSampled) and event.transaction_id is not None:
            a, b, c = (x or 0.0 for x in event.currents_a)
            loop.measured(event.station_id, (a, b, c), event.offered_a)

    async def start(self) -> None:
        """Build the meter clients (inside the loop), start polling, control and BMS."""
        _, self.meters = build_meters(self.settings.meters, self._clock)
        if self.meters:
            poller = MeterPoller(
                self.meters, interval_s=self.settings.meter_interval_s, on_sample=self._on_sample
            )
            self._tasks.append(asyncio.create_task(poller.run()))
        if self.loop is not None:
            self._tasks.append(asyncio.create_task(self.loop.run()))
        if self.settings.bms is not None:
            self.bms = BmsServer(
                self.settings.bms,
                _BmsView(self),
                self._clock,
                on_setpoint=self._on_setpoint,
                audit=self._audit,
            )
            await self.bms.start()

    def _on_sample(self, sample: MeterSample) -> None:
        self.last_samples[sample.meter] = sample
        if self.loop is None:
            return
        config = next(c for c in self.settings.meters if c.name == sample.meter)
        self.loop.reading(meter_node(config, self.settings.tree), sample.currents_a)

    def _on_setpoint(self, setpoint: EffectiveSetpoint) -> None:
        if self.loop is not None:
            self.loop.set_site_limit(setpoint.limit_a, f"bms:{setpoint.source}")

    async def stop(self) -> None:
        """Stop polling, control and the BMS server."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.bms is not None:
            await self.bms.stop()
        for meter in self.meters:
            await meter.bus.close()

    def site_meter(self) -> MeterSample | None:
        """The latest reading of the site meter, if there is one."""
        for config in self.settings.meters:
            if config.role == "site":
                return self.last_samples.get(config.name)
        return None


class _BmsView:
    """The BMS server's read-only view of the site (BmsDataSource)."""

    def __init__(self, lm: LoadManagement) -> None:
        self._lm = lm

    def site(self) -> BmsSite:
        sample = self._lm.site_meter()
        loop = self._lm.loop
        limit = None
        if loop is not None:
            limit = min(loop.tree.root.limit)
        return BmsSite(
            power_w=sample.power_w if sample else None,
            currents_a=sample.currents_a if sample else None,
            voltages_v=sample.voltages_v if sample else None,
            meter_age_s=(self._lm._clock.now() - sample.timestamp).total_seconds()
            if sample
            else None,
            site_limit_a=limit,
        )

    def stations(self) -> Sequence[BmsStation]:
        loop = self._lm.loop
        out = []
        for view in self._lm._live.stations():
            connector = view.connectors.get(1)
            limit = loop.snapshot.sent.get(view.station_id) if loop else None
            out.append(
                BmsStation(
                    station_id=view.station_id,
                    status=connector.status if connector else "Unavailable",
                    limit_a=limit,
                    currents_a=tuple(x or 0.0 for x in connector.currents_a)  # type: ignore[arg-type]
                    if connector and connector.transaction_id
                    else None,
                    power_w=connector.power_w if connector else None,
                    session_energy_wh=(connector.energy_wh - connector.start_energy_wh)
                    if connector
                    and connector.energy_wh is not None
                    and connector.start_energy_wh is not None
                    else None,
                )
            )
        return out
