"""Available current per node and phase: configured limits, less the building's own load."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from evsite.energy.model import CircuitTree, Phase, PhaseAmps, Readings, Session
from evsite.energy.settings import Mode, Settings

ZERO: PhaseAmps = (0.0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class NodeCapacity:
    """What one node offers to the stations below it, with the facts behind it for explanations."""

    limit: PhaseAmps
    available: PhaseAmps
    building: PhaseAmps | None = None
    fallback: bool = False

    def describe(self, name: str, phase: Phase) -> str:
        """A constraint as an installer reads it, e.g. "L2 of feeder B at 63 A"."""
        p = phase.value
        text = f"{phase.name} of {name} at {self.limit[p]:g} A"
        if self.fallback:
            return f"{text} (no meter reading: fallback {self.available[p]:g} A)"
        if self.building is not None and self.building[p] > 0.05:
            return f"{text} (building load {self.building[p]:.1f} A)"
        return text


def _finite(values: PhaseAmps | None) -> bool:
    return values is not None and len(values) == 3 and all(math.isfinite(v) for v in values)


def station_draw(tree: CircuitTree, sessions: Sequence[Session]) -> dict[int, list[float]]:
    """Amps the stations draw now, summed per node (index) and site phase."""
    per_node: dict[int, list[float]] = {}
    for session in sessions:
        if session.measured is None:
            continue
        placement = tree.placements[session.station_id]
        for k, site_phase in enumerate(placement.site_phases):
            amps = session.measured[k]
            # An unreadable or negative station value counts as 0: that makes the
            # building load look larger, which errs on the safe side.
            amps = amps if math.isfinite(amps) and amps > 0 else 0.0
            for n in placement.path:
                per_node.setdefault(n, [0.0, 0.0, 0.0])[site_phase] += amps
    return per_node


def node_capacities(
    tree: CircuitTree, readings: Readings, sessions: Sequence[Session], settings: Settings
) -> list[NodeCapacity]:
    """Each node's available current, in tree.nodes order.

    Static: the configured limit. Dynamic: limit minus building load, where
    building load = the node's meter reading minus what the stations below it
    draw, clamped at >= 0. A metered node without a usable reading offers its
    fallback (zero if none is set); a node without a meter offers its limit,
    the building load being counted at the metered nodes above it.
    """
    if settings.mode is Mode.STATIC:
        return [NodeCapacity(n.limit, n.limit) for n in tree.nodes]
    drawn = station_draw(tree, sessions)
    result = []
    for index, node in enumerate(tree.nodes):
        reading = readings.get(node.id)
        if _finite(reading):
            assert reading is not None
            stations = drawn.get(index, [0.0, 0.0, 0.0])
            building = tuple(max(0.0, reading[p] - stations[p]) for p in range(3))
            available = tuple(max(0.0, node.limit[p] - building[p]) for p in range(3))
            result.append(NodeCapacity(node.limit, _amps(available), _amps(building)))
        elif node.metered or reading is not None:
            fallback = node.fallback or ZERO
            available = tuple(min(node.limit[p], fallback[p]) for p in range(3))
            result.append(NodeCapacity(node.limit, _amps(available), fallback=True))
        else:
            result.append(NodeCapacity(node.limit, node.limit))
    return result


def _amps(values: tuple[float, ...]) -> PhaseAmps:
    return (values[0], values[1], values[2])


def check_readings(tree: CircuitTree, readings: Mapping[str, PhaseAmps]) -> None:
    """Refuse readings for nodes the tree does not have (a wiring or config mix-up)."""
    unknown = sorted(set(readings) - set(tree.node_index))
    if unknown:
        raise ValueError(f"meter readings for unknown circuit nodes: {', '.join(unknown)}")
