"""The circuit tree, station specs, sessions and meter readings that allocation works on.

Currents are amps. A `PhaseAmps` is always in *site* phase order (L1, L2, L3)
unless a field says otherwise: a session's measured current is in the
station's own phase order, because that is what the station reports.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import IntEnum

from evsite.config_errors import ConfigError

PhaseAmps = tuple[float, float, float]
"""Amps on L1, L2, L3."""

Readings = Mapping[str, PhaseAmps]
"""Fresh meter readings: node id -> amps measured per site phase at that node."""


class Phase(IntEnum):
    """A site phase; the value is its index into a PhaseAmps."""

    L1 = 0
    L2 = 1
    L3 = 2

    @classmethod
    def parse(cls, text: str, key: str) -> Phase:
        """Read "L1"/"L2"/"L3" (any case); anything else is a ConfigError on `key`."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ConfigError(key, f"{text!r} is not a phase; use L1, L2 or L3") from None


def uniform(amps: float) -> PhaseAmps:
    """The same current on all three phases."""
    return (amps, amps, amps)


def _check_amps(key: str, values: PhaseAmps) -> None:
    if len(values) != 3:
        raise ConfigError(key, f"needs three values (L1, L2, L3), got {len(values)}")
    for phase, value in zip(Phase, values, strict=True):
        if not math.isfinite(value) or value < 0:
            raise ConfigError(
                key, f"{phase.name} must be a finite number of amps >= 0, got {value!r}"
            )


@dataclass(frozen=True, kw_only=True, slots=True)
class StationSpec:
    """One charging station as wired: phases, wiring to the site phases, current range.

    `wiring` maps the station's own phases to site phases: a 1-phase station
    has one entry (the site phase it sits on); a 3-phase station has three,
    its L1, L2, L3 in order, e.g. (L2, L3, L1) for a rotated connection.
    `steps`, when given, are the only currents the station accepts; an
    allocation is rounded down to one of them, never up.
    """

    id: str
    max_a: float
    phases: int = 3
    wiring: tuple[Phase, ...] = ()
    min_a: float = 6.0
    steps: tuple[float, ...] = ()
    priority: int = 0
    name: str = ""

    def __post_init__(self) -> None:
        key = f"stations.{self.id}"
        if not self.id:
            raise ConfigError("stations", "a station needs a non-empty id")
        if self.phases not in (1, 3):
            raise ConfigError(f"{key}.phases", f"must be 1 or 3, got {self.phases!r}")
        wiring = self.wiring or (tuple(Phase) if self.phases == 3 else (Phase.L1,))
        if len(wiring) != self.phases:
            raise ConfigError(
                f"{key}.wiring",
                f"a {self.phases}-phase station needs {self.phases} phases in its wiring",
            )
        if len(set(wiring)) != len(wiring):
            raise ConfigError(f"{key}.wiring", "a site phase appears twice")
        object.__setattr__(self, "wiring", tuple(Phase(p) for p in wiring))
        if not (math.isfinite(self.min_a) and self.min_a > 0):
            raise ConfigError(f"{key}.min_a", f"must be > 0 A, got {self.min_a!r}")
        if not (math.isfinite(self.max_a) and self.max_a >= self.min_a):
            raise ConfigError(
                f"{key}.max_a", f"must be >= min_a ({self.min_a:g} A), got {self.max_a!r}"
            )
        steps = tuple(sorted(float(s) for s in self.steps))
        if any(not math.isfinite(s) or s <= 0 for s in steps) or len(set(steps)) != len(steps):
            raise ConfigError(f"{key}.steps", "must be distinct positive currents")
        if steps and not any(self.min_a <= s <= self.max_a for s in steps):
            raise ConfigError(
                f"{key}.steps",
                f"none lies between min_a {self.min_a:g} A and max_a {self.max_a:g} A",
            )
        object.__setattr__(self, "steps", steps)

    @property
    def floor_a(self) -> float:
        """The least non-zero current this station may be given (min_a, raised to a step)."""
        if not self.steps:
            return self.min_a
        return min(s for s in self.steps if s >= self.min_a)

    @property
    def ceiling_a(self) -> float:
        """The most this station may be given (max_a, lowered to a step)."""
        if not self.steps:
            return self.max_a
        return max(s for s in self.steps if s <= self.max_a)

    def round_down(self, amps: float) -> float:
        """The largest allowed current <= amps (0 when below the floor); 0.1 A resolution."""
        # The epsilon absorbs float noise from water-filling (5.9999999 must stay 6.0).
        amps = math.floor(amps * 10 + 1e-6) / 10
        if amps < self.floor_a - 1e-9:
            return 0.0
        if self.steps:
            return max(s for s in self.steps if s <= amps + 1e-9 and s <= self.ceiling_a)
        return min(amps, self.ceiling_a)

    def round_up(self, amps: float) -> float:
        """The smallest allowed current >= amps, within [floor, ceiling]."""
        amps = min(max(amps, self.floor_a), self.ceiling_a)
        if self.steps:
            return min(s for s in self.steps if s >= amps - 1e-9)
        return math.ceil(amps * 10 - 1e-6) / 10


@dataclass(frozen=True, kw_only=True, slots=True)
class Node:
    """A point of the circuit tree (site, feeder, sub-feeder) with a per-phase current limit.

    `metered` says a meter measures this node; in dynamic mode its building
    load is then subtracted, and when its reading is missing (stale) the
    node falls back to `fallback` amps per phase for all stations below it
    (no charging if no fallback is set).
    """

    id: str
    name: str
    limit: PhaseAmps
    children: tuple[Node, ...] = ()
    stations: tuple[StationSpec, ...] = ()
    metered: bool = False
    fallback: PhaseAmps | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise ConfigError("circuit", "a circuit node needs a non-empty id")
        object.__setattr__(self, "limit", tuple(float(v) for v in self.limit))
        _check_amps(f"circuit.{self.id}.limit", self.limit)
        if self.fallback is not None:
            object.__setattr__(self, "fallback", tuple(float(v) for v in self.fallback))
            _check_amps(f"circuit.{self.id}.fallback", self.fallback)

    def walk(self) -> Iterator[Node]:
        """This node and every node below it, parents before children."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True, kw_only=True, slots=True)
class Session:
    """A live charging session as the control loop sees it.

    `measured` is what the car draws now, per phase in the station's own
    phase order (None when the station has not reported yet). `offered` is
    the limit currently in force at the station, if the caller knows it
    (give-back compares the draw with it). `started_at` is on the same clock
    as `now` in allocate(); a new start on the same station is a new session.
    """

    station_id: str
    active: bool = True
    vip: bool = False
    measured: PhaseAmps | None = None
    offered: float | None = None
    started_at: float = 0.0

    def draw(self) -> float | None:
        """The highest per-phase current the car draws, or None if unknown."""
        return None if self.measured is None else max(self.measured)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a station sits: its node path from the site down, and the site phases it loads."""

    spec: StationSpec
    path: tuple[int, ...]
    site_phases: tuple[Phase, ...]


@dataclass(frozen=True)
class CircuitTree:
    """A validated circuit tree with its stations indexed for allocation."""

    root: Node
    nodes: tuple[Node, ...] = field(init=False)
    placements: Mapping[str, Placement] = field(init=False)
    node_index: Mapping[str, int] = field(init=False)

    def __post_init__(self) -> None:
        nodes: list[Node] = []
        index: dict[str, int] = {}
        placements: dict[str, Placement] = {}

        def visit(node: Node, path: tuple[int, ...]) -> None:
            if node.id in index:
                raise ConfigError("circuit", f"node id {node.id!r} is used twice")
            index[node.id] = len(nodes)
            nodes.append(node)
            here = (*path, index[node.id])
            for spec in node.stations:
                if spec.id in placements:
                    raise ConfigError("stations", f"station id {spec.id!r} is used twice")
                placements[spec.id] = Placement(spec, here, spec.wiring)
            for child in node.children:
                visit(child, here)

        visit(self.root, ())
        object.__setattr__(self, "nodes", tuple(nodes))
        object.__setattr__(self, "node_index", index)
        object.__setattr__(self, "placements", placements)

    def station(self, station_id: str) -> StationSpec:
        """The spec of a station; KeyError names it if unknown."""
        return self.placements[station_id].spec

    def stations_under(self, node_id: str) -> list[str]:
        """Ids of the stations at or below a node."""
        at = self.node_index[node_id]
        return [sid for sid, p in self.placements.items() if at in p.path]
