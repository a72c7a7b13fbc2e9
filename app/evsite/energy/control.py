"""The control loop: readings and sessions in, limits out to the stations, with safe states.

It owns no I/O: meters hand it readings, the station server hands it session
changes, and a `LimitSink` (the OCPP side) turns limits into charging profiles.

Safety is lease-shaped. Every station first gets a permanent safe limit; every
higher limit is a lease that expires unless renewed. A controller that dies or
loses its link therefore leaves each station at the safe current by itself. A
metered node whose readings go stale offers its configured fallback until
readings return.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from evsite.aio import wait_event
from evsite.audit_sink import AuditSink
from evsite.clock import Clock
from evsite.energy.allocate import AllocationResult, StationLimit, allocate
from evsite.energy.model import CircuitTree, PhaseAmps, Session
from evsite.energy.ramp import next_command
from evsite.energy.settings import Settings
from evsite.energy.state import AllocationState

log = logging.getLogger("evsite.energy")


class LimitSink(Protocol):
    """Where limits go: the station server, speaking SetChargingProfile."""

    async def apply_safe(self, station_id: str, amps: float) -> bool:
        """Install the permanent safe limit; True if the station accepted it."""
        ...

    async def apply_lease(self, station_id: str, amps: float, lease_s: float) -> bool:
        """Install a limit that lapses to the safe one after lease_s unless renewed."""
        ...


@dataclass(frozen=True)
class ControlSettings:
    """[control]: timing of the loop and its safe states."""

    safe_current_a: float = 6.0
    lease_s: float = 120.0
    renew_s: float = 40.0
    stale_after_s: float = 15.0
    tick_s: float = 5.0


@dataclass
class _Sent:
    amps: float
    changed_at: float
    renewed_at: float


@dataclass
class ControlSnapshot:
    """What the loop decided last, for the UI, the CLI and the BMS."""

    limits: dict[str, StationLimit] = field(default_factory=dict)
    sent: dict[str, float] = field(default_factory=dict)
    available: dict[str, PhaseAmps] = field(default_factory=dict)
    allocated: dict[str, PhaseAmps] = field(default_factory=dict)
    stale_nodes: list[str] = field(default_factory=list)
    site_limit_a: float | None = None
    # Each external source's own limit ("bms", "ems"); the tightest is site_limit_a.
    site_limits: dict[str, float] = field(default_factory=dict)
    rounds: int = 0


class ControlLoop:
    """Runs allocate() on every fresh reading or session change and pushes the limits."""

    def __init__(
        self,
        tree: CircuitTree,
        energy: Settings,
        settings: ControlSettings,
        clock: Clock,
        sink: LimitSink,
        audit: AuditSink,
    ) -> None:
        self._base_tree = tree
        self._tree = tree
        self._energy = energy
        self._settings = settings
        self._clock = clock
        self._sink = sink
        self._audit = audit
        self._state = AllocationState()
        self._sessions: dict[str, Session] = {}
        self._connected: set[str] = set()
        self._readings: dict[str, tuple[PhaseAmps, float]] = {}
        # Until a first reading arrives every metered node is stale (its fallback applies),
        # without an alarm: an alarm is for readings that stop, not for a start-up.
        self._stale: set[str] = {n.id for n in tree.nodes if n.metered}
        self._alarmed: set[str] = set()
        self._sent: dict[str, _Sent] = {}
        self._csms_limits: dict[str, float] = {}
        self._external: dict[str, float] = {}
        self._wake = asyncio.Event()
        self.snapshot = ControlSnapshot()
        self.round_done = asyncio.Event()

    @property
    def tree(self) -> CircuitTree:
        """The circuit tree in force (with any external site limit applied)."""
        return self._tree

    def manages(self, station_id: str) -> bool:
        """True if the station is in the circuit tree."""
        return station_id in self._tree.placements

    # Inputs ------------------------------------------------------------------------------

    def reading(self, node_id: str, currents: PhaseAmps) -> None:
        """A fresh, trusted meter reading for a metered node."""
        self._readings[node_id] = (currents, self._clock.monotonic())
        self._wake.set()

    def station_connected(self, station_id: str) -> None:
        """A station came online: it gets the safe limit before anything else."""
        if not self.manages(station_id):
            return
        self._connected.add(station_id)
        self._sent.pop(station_id, None)
        self._wake.set()

    def station_disconnected(self, station_id: str) -> None:
        """A station went offline."""
        self._connected.discard(station_id)
        self._sent.pop(station_id, None)
        self._wake.set()

    def session_started(self, station_id: str, vip: bool) -> None:
        """A transaction began at a station."""
        if self.manages(station_id):
            self._sessions[station_id] = Session(
                station_id=station_id, vip=vip, started_at=self._clock.monotonic()
            )
            self._wake.set()

    def session_stopped(self, station_id: str) -> None:
        """The station's transaction ended."""
        if self._sessions.pop(station_id, None) is not None:
            self._wake.set()

    def measured(self, station_id: str, currents: PhaseAmps, offered: float | None) -> None:
        """What the car draws now (station phase order)."""
        session = self._sessions.get(station_id)
        if session is not None:
            self._sessions[station_id] = dataclasses.replace(
                session, measured=currents, offered=offered
            )

    def set_csms_limit(self, station_id: str, amps: float | None) -> None:
        """A CSMS's own limit for a station; the station gets the tighter of it and ours."""
        if amps is None:
            self._csms_limits.pop(station_id, None)
        else:
            self._csms_limits[station_id] = amps
        self._wake.set()

    def set_site_limit(self, amps: float | None, source: str) -> None:
        """An external site limit from one source (BMS or EMS); None withdraws that source's.

        `source` is "kind" or "kind:detail" ("bms:fallback", "ems:expired"). Each kind
        holds its own limit and the tightest of them applies, so an EMS limit that
        expires leaves a BMS limit in force, and the other way round.
        """
        kind = source.split(":", 1)[0]
        if self._external.get(kind) == amps:
            return
        if amps is None:
            self._external.pop(kind, None)
        else:
            self._external[kind] = amps
        effective = self.external_limit()
        root = self._base_tree.root
        if effective is not None:
            l1, l2, l3 = root.limit
            root = dataclasses.replace(
                root, limit=(min(l1, effective), min(l2, effective), min(l3, effective))
            )
        self._tree = CircuitTree(root)
        self._audit.record(
            "energy.site_limit", actor=source, detail={"limit_a": amps, "effective_a": effective}
        )
        self._wake.set()

    def site_limits(self) -> dict[str, float]:
        """Each external source's limit in force now, by kind ("bms", "ems")."""
        return dict(self._external)

    def external_limit(self) -> float | None:
        """The tightest external site limit in force, or None when no source sets one."""
        return min(self._external.values(), default=None)

    # The loop ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Compute and push limits until cancelled."""
        while True:
            await wait_event(self._wake, self._settings.tick_s)
            self._wake.clear()
            try:
                await self.step()
            except Exception:
                log.exception("control round failed; stations keep their leases")
            self.round_done.set()
            self.round_done = asyncio.Event()

    async def step(self) -> AllocationResult:
        """One round: allocate, then send what changed (and renew what is due)."""
        now = self._clock.monotonic()
        readings = self._fresh_readings(now)
        sessions = list(self._sessions.values())
        result = allocate(self._tree, readings, sessions, self._energy, self._state, now)
        self._state = result.state
        await self._dispatch(result, now)
        self.snapshot = ControlSnapshot(
            limits=dict(result.limits),
            sent={k: v.amps for k, v in self._sent.items()},
            available=dict(result.available),
            allocated=dict(result.allocated),
            stale_nodes=sorted(self._stale),
            site_limit_a=self.external_limit(),
            site_limits=dict(self._external),
            rounds=self.snapshot.rounds + 1,
        )
        return result

    def _fresh_readings(self, now: float) -> Mapping[str, PhaseAmps]:
        fresh: dict[str, PhaseAmps] = {}
        for node in self._tree.nodes:
            if not node.metered:
                continue
            entry = self._readings.get(node.id)
            stale = entry is None or now - entry[1] > self._settings.stale_after_s
            if stale and node.id not in self._stale:
                self._stale.add(node.id)
                self._alarmed.add(node.id)
                log.warning("meter of %s stale: fallback %s", node.id, node.fallback)
                self._audit.record(
                    "meter.stale",
                    outcome="fallback",
                    detail={"node": node.id, "fallback_a": node.fallback},
                )
            elif not stale and node.id in self._stale:
                self._stale.discard(node.id)
                if node.id in self._alarmed:
                    self._alarmed.discard(node.id)
                    self._audit.record("meter.recovered", detail={"node": node.id})
            if not stale and entry is not None:
                fresh[node.id] = entry[0]
        return fresh

    async def _dispatch(self, result: AllocationResult, now: float) -> None:
        jobs = []
        for station_id in sorted(self._connected):
            limit = result.limits.get(station_id)
            if limit is None:
                continue
            target = limit.amps
            csms = self._csms_limits.get(station_id)
            if csms is not None:
                target = min(target, csms)
            jobs.append(self._send(station_id, target, now))
        if jobs:
            await asyncio.gather(*jobs)

    async def _send(self, station_id: str, target: float, now: float) -> None:
        sent = self._sent.get(station_id)
        if sent is None:
            # First contact: the permanent safe limit goes before any lease.
            if not await self._sink.apply_safe(station_id, self._settings.safe_current_a):
                return
            command: float | None = target
        else:
            spec = self._tree.station(station_id)
            command = next_command(
                sent.amps, target, now, sent.changed_at, self._energy, spec.steps
            )
            if command is None and now - sent.renewed_at >= self._settings.renew_s:
                command = sent.amps  # renew the lease before it lapses
        if command is None:
            return
        if await self._sink.apply_lease(station_id, command, self._settings.lease_s):
            changed_at = sent.changed_at if sent and sent.amps == command else now
            self._sent[station_id] = _Sent(command, changed_at, now)
