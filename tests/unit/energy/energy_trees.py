"""Hypothesis strategies for random circuit trees and sessions, and the invariants to check."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hypothesis import strategies as st

from evsite.energy import (
    AllocationResult,
    CircuitTree,
    Mode,
    Node,
    Phase,
    PhaseAmps,
    Session,
    Settings,
    StationSpec,
)

TOL = 1e-6
STEP_SETS = ((6.0, 8.0, 10.0, 13.0, 16.0), (6.0, 10.0, 16.0, 20.0, 32.0))


@dataclass(frozen=True)
class Scenario:
    """One allocate() input."""

    tree: CircuitTree
    readings: Mapping[str, PhaseAmps]
    sessions: list[Session]
    settings: Settings


amps = st.integers(0, 250).map(lambda half: half / 2)


@st.composite
def phase_amps(draw: st.DrawFn, top: int = 250) -> PhaseAmps:
    """Three currents in half amps up to top/2."""
    one = st.integers(0, top).map(lambda half: half / 2)
    return (draw(one), draw(one), draw(one))


@st.composite
def station_specs(draw: st.DrawFn, sid: str, priorities: bool = True) -> StationSpec:
    """A 1- or 3-phase station with random wiring, range, steps and priority."""
    phases = draw(st.sampled_from((1, 3)))
    wiring = tuple(draw(st.permutations(list(Phase)))[:phases])
    min_a = draw(st.sampled_from((6.0, 6.0, 8.0, 10.0)))
    max_a = draw(st.sampled_from((min_a, 10.0, 16.0, 20.0, 32.0)).filter(lambda m: m >= min_a))
    steps: tuple[float, ...] = ()
    if draw(st.booleans()):
        candidate = draw(st.sampled_from(STEP_SETS))
        if any(min_a <= s <= max_a for s in candidate):
            steps = candidate
    priority = draw(st.integers(0, 2)) if priorities else 0
    return StationSpec(
        id=sid,
        phases=phases,
        wiring=wiring,
        min_a=min_a,
        max_a=max_a,
        steps=steps,
        priority=priority,
    )


@st.composite
def trees(draw: st.DrawFn, priorities: bool = True, max_stations: int = 12) -> CircuitTree:
    """A site with 1-3 feeders, each with 0-2 sub-feeders; stations on feeders and sub-feeders."""
    counter = iter(range(10_000))

    def node_stations(budget: int) -> tuple[StationSpec, ...]:
        n = draw(st.integers(0, min(3, budget)))
        return tuple(draw(station_specs(f"s{next(counter)}", priorities)) for _ in range(n))

    feeders = []
    budget = max_stations
    for f in range(draw(st.integers(1, 3))):
        subs = []
        for s in range(draw(st.integers(0, 2))):
            here = node_stations(budget)
            budget -= len(here)
            subs.append(_node(draw, f"f{f}s{s}", f"sub-feeder {f}.{s}", (), here))
        here = node_stations(budget)
        budget -= len(here)
        feeders.append(_node(draw, f"f{f}", f"feeder {f}", tuple(subs), here))
    return CircuitTree(_node(draw, "site", "site contract", tuple(feeders), ()))


def _node(
    draw: st.DrawFn,
    nid: str,
    name: str,
    children: tuple[Node, ...],
    stations: tuple[StationSpec, ...],
) -> Node:
    metered = draw(st.booleans())
    fallback = draw(st.none() | phase_amps(80)) if metered else None
    return Node(
        id=nid,
        name=name,
        limit=draw(phase_amps()),
        children=children,
        stations=stations,
        metered=metered,
        fallback=fallback,
    )


@st.composite
def sessions_for(draw: st.DrawFn, tree: CircuitTree, vips: bool = True) -> list[Session]:
    """Random sessions on some stations: active or not, VIP or not, measured or not."""
    out = []
    for sid in tree.placements:
        if not draw(st.integers(0, 4)):
            continue
        measured = draw(st.none() | phase_amps(64))
        out.append(
            Session(
                station_id=sid,
                active=draw(st.integers(0, 5)) > 0,
                vip=vips and draw(st.integers(0, 3)) == 0,
                measured=measured,
            )
        )
    return out


@st.composite
def settings(draw: st.DrawFn, imbalance: bool = True) -> Settings:
    """Random mode and imbalance limit; other tunables at their defaults."""
    limit = draw(st.none() | st.integers(12, 80).map(lambda half: half / 2)) if imbalance else None
    return Settings(mode=draw(st.sampled_from(list(Mode))), imbalance_limit_a=limit)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """A full random allocate() input."""
    tree = draw(trees())
    readings = {
        node.id: draw(phase_amps(300)) for node in tree.nodes if draw(st.integers(0, 2)) > 0
    }
    return Scenario(tree, readings, draw(sessions_for(tree)), draw(settings()))


def expected_available(scn: Scenario) -> dict[str, PhaseAmps]:
    """The available current per node, computed the plain way, independently of the package."""
    out: dict[str, PhaseAmps] = {}
    by_station = {s.station_id: s for s in scn.sessions}
    for node in scn.tree.nodes:
        reading = scn.readings.get(node.id)
        if scn.settings.mode is Mode.STATIC:
            out[node.id] = node.limit
            continue
        if reading is None:
            if node.metered:
                fb = node.fallback or (0.0, 0.0, 0.0)
                out[node.id] = (
                    min(node.limit[0], fb[0]),
                    min(node.limit[1], fb[1]),
                    min(node.limit[2], fb[2]),
                )
            else:
                out[node.id] = node.limit
            continue
        drawn = [0.0, 0.0, 0.0]
        for sid in scn.tree.stations_under(node.id):
            session = by_station.get(sid)
            if session is None or session.measured is None:
                continue
            spec = scn.tree.station(sid)
            for k, site_phase in enumerate(spec.wiring):
                drawn[site_phase] += session.measured[k]
        free = [max(0.0, node.limit[p] - max(0.0, reading[p] - drawn[p])) for p in range(3)]
        out[node.id] = (free[0], free[1], free[2])
    return out


def node_loads(tree: CircuitTree, result: AllocationResult) -> dict[str, list[float]]:
    """Sum of station limits per node and site phase, recomputed from the limits alone."""
    loads = {}
    for node in tree.nodes:
        load = [0.0, 0.0, 0.0]
        for sid in tree.stations_under(node.id):
            for site_phase in tree.station(sid).wiring:
                load[site_phase] += result.limits[sid].amps
        loads[node.id] = load
    return loads


def check_safety(scn: Scenario, result: AllocationResult) -> None:
    """Every invariant that must hold on every single call."""
    available = expected_available(scn)
    for node_id, load in node_loads(scn.tree, result).items():
        for p in range(3):
            assert load[p] <= available[node_id][p] + TOL, (node_id, p, load, available[node_id])
            assert math.isclose(load[p], result.allocated[node_id][p], abs_tol=TOL)
    active = {s.station_id for s in scn.sessions if s.active}
    for sid, limit in result.limits.items():
        spec = scn.tree.station(sid)
        if sid not in active:
            assert limit.amps == 0
            continue
        assert limit.amps == 0 or limit.amps >= spec.min_a - TOL, (sid, limit)
        assert limit.amps <= spec.max_a + TOL, (sid, limit)
        if spec.steps and limit.amps:
            assert limit.amps in spec.steps, (sid, limit, spec.steps)
        assert limit.binding
    if scn.settings.imbalance_limit_a is not None:
        one_phase = single_phase_loads(scn.tree, result)
        assert max(one_phase) - min(one_phase) <= scn.settings.imbalance_limit_a + TOL


def single_phase_loads(tree: CircuitTree, result: AllocationResult) -> list[float]:
    """Amps given to single-phase stations per site phase."""
    load = [0.0, 0.0, 0.0]
    for sid, limit in result.limits.items():
        spec = tree.station(sid)
        if spec.phases == 1:
            load[spec.wiring[0]] += limit.amps
    return load


def constraint_of(binding: str) -> str:
    """The constraint a binding text names, without pause wording or rounding notes."""
    text = binding.split(" (rounded down")[0]
    for prefix in ("paused: waiting for its turn on ",):
        text = text.removeprefix(prefix)
    if text.startswith("paused: not enough for minimum "):
        text = text.split(" A on ", 1)[1]
    return text.removesuffix(" (rotation)")


def same_spec(a: StationSpec, b: StationSpec) -> bool:
    """Same current range and steps (ids and wiring may differ)."""
    return (a.floor_a, a.ceiling_a, a.steps) == (b.floor_a, b.ceiling_a, b.steps)


def clone(spec: StationSpec, sid: str, priority: int | None = None) -> StationSpec:
    """The same station under another id (and, if given, another priority)."""
    return StationSpec(
        id=sid,
        phases=spec.phases,
        wiring=spec.wiring,
        min_a=spec.min_a,
        max_a=spec.max_a,
        steps=spec.steps,
        priority=spec.priority if priority is None else priority,
    )


def ids(sessions: Sequence[Session]) -> list[str]:
    """Station ids of sessions."""
    return [s.station_id for s in sessions]
