"""allocate(): from circuit tree, meter readings and sessions to a current limit per station.

Pure: no clock, no I/O; time comes in as `now` and the rotation/give-back
bookkeeping goes out in the result's `state`, to be passed back next call.

Per priority tier (VIP first, then higher station priority), highest first:
admit sessions in rotation order while their minimum fits every constraint
on their path, then raise the admitted ones together (water-filling) until
each meets its station maximum, its give-back cap or a full constraint.
Lower tiers get what is left. An imbalance limit, when set, is met by
re-running with caps on the single-phase load per phase, and as a last
resort by lowering single-phase stations on the heaviest phase.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from evsite.energy.capacity import NodeCapacity, check_readings, node_capacities
from evsite.energy.giveback import GiveBack, give_back
from evsite.energy.imbalance import cut, single_phase_load
from evsite.energy.model import CircuitTree, Phase, PhaseAmps, Readings, Session, StationSpec
from evsite.energy.rotation import queue_key, remember
from evsite.energy.settings import Settings
from evsite.energy.state import AllocationState, SessionMemory
from evsite.energy.waterfill import NO_GROUP, admit, fill

IDLE = "no active session"


@dataclass(frozen=True, slots=True)
class StationLimit:
    """The current a station may draw per phase (0 = paused) and the constraint that binds it."""

    amps: float
    binding: str


@dataclass(frozen=True)
class AllocationResult:
    """Limits for every station in the tree, node figures for display, and state for next call."""

    limits: Mapping[str, StationLimit]
    available: Mapping[str, PhaseAmps]
    allocated: Mapping[str, PhaseAmps]
    state: AllocationState


@dataclass(frozen=True)
class _Problem:
    """One call's sessions as parallel lists, indexed by session number."""

    sessions: list[Session]
    specs: list[StationSpec]
    groups_of: list[list[int]]
    floor: list[float]
    ceiling: list[float]
    capped: list[bool]
    phase_of: list[Phase | None]
    tiers: list[list[int]]
    rank: list[tuple[int, int]]
    running: list[bool]
    due: list[bool]
    capacity: list[float]


@dataclass
class _Outcome:
    amps: list[float]
    reasons: list[tuple[str, int]]
    rounded: list[bool]


def allocate(
    tree: CircuitTree,
    readings: Readings,
    sessions: Sequence[Session],
    settings: Settings,
    state: AllocationState,
    now: float,
) -> AllocationResult:
    """Compute every station's limit; ValueError (naming it) for an unknown station or node."""
    _check_sessions(tree, sessions)
    check_readings(tree, readings)
    capacities = node_capacities(tree, readings, sessions, settings)
    active = [s for s in sessions if s.active]
    memories = [state.memory(s.station_id, s.started_at) for s in active]
    gives = [
        give_back(m, s, tree.station(s.station_id), settings, now)
        for s, m in zip(active, memories, strict=True)
    ]
    problem = _problem(tree, capacities, active, memories, gives, settings, now)
    outcome = _solve(problem, [math.inf] * 3)
    limit = settings.imbalance_limit_a
    if limit is not None:
        caps = [math.inf] * 3
        for _ in range(4):
            load = single_phase_load(outcome.amps, problem.phase_of)
            if max(load) - min(load) <= limit + 1e-6:
                break
            # Cap each phase's single-phase load at the lightest one plus the limit; three-phase
            # stations may take what that frees, so try again with the new lightest phase.
            caps = [min(caps[p], min(load) + limit) for p in range(3)]
            outcome = _solve(problem, caps)
        for i, phase in cut(
            outcome.amps, problem.phase_of, problem.specs, problem.rank, limit
        ).items():
            outcome.reasons[i] = ("imbalance" if outcome.amps[i] > 0 else "imbalance-paused", phase)
    return _result(tree, capacities, problem, outcome, memories, gives, settings, now)


def _check_sessions(tree: CircuitTree, sessions: Sequence[Session]) -> None:
    seen: set[str] = set()
    for s in sessions:
        if s.station_id not in tree.placements:
            raise ValueError(f"session for unknown station {s.station_id!r}")
        if s.station_id in seen:
            raise ValueError(f"two sessions for station {s.station_id!r}")
        seen.add(s.station_id)


def _problem(
    tree: CircuitTree,
    capacities: list[NodeCapacity],
    active: list[Session],
    memories: list[SessionMemory | None],
    gives: list[GiveBack],
    settings: Settings,
    now: float,
) -> _Problem:
    imbalance_base = 3 * len(tree.nodes)
    specs, groups_of, floor, ceiling, capped, phase_of = [], [], [], [], [], []
    keys, running, due = [], [], []
    for s, memory, give in zip(active, memories, gives, strict=True):
        placement = tree.placements[s.station_id]
        spec = placement.spec
        groups = [3 * n + p for n in placement.path for p in placement.site_phases]
        one_phase = placement.site_phases[0] if spec.phases == 1 else None
        if one_phase is not None:
            groups.append(imbalance_base + one_phase)
        top = spec.ceiling_a if give.cap is None else min(spec.ceiling_a, give.cap)
        specs.append(spec)
        groups_of.append(groups)
        floor.append(spec.floor_a)
        ceiling.append(top)
        capped.append(top < spec.ceiling_a)
        phase_of.append(one_phase)
        key, is_running, is_due = queue_key(s, spec, memory, settings.rotation_period_s, now)
        keys.append(key)
        running.append(is_running)
        due.append(is_due)
    order = sorted(range(len(active)), key=keys.__getitem__)
    tiers: list[list[int]] = []
    rank = [(0, 0)] * len(active)
    for position, i in enumerate(order):
        if not tiers or keys[tiers[-1][0]][:2] != keys[i][:2]:
            tiers.append([])
        tiers[-1].append(i)
        rank[i] = (len(tiers) - 1, position)
    capacity = [c.available[p] for c in capacities for p in range(3)] + [math.inf] * 3
    return _Problem(
        active,
        specs,
        groups_of,
        floor,
        ceiling,
        capped,
        phase_of,
        tiers,
        rank,
        running,
        due,
        capacity,
    )


def _solve(problem: _Problem, imbalance_caps: list[float]) -> _Outcome:
    """Admit and fill tier by tier; rounding leftovers go back for the lower tiers."""
    capacity = problem.capacity[:-3] + imbalance_caps
    held_above = [0.0] * len(capacity)
    count = len(problem.sessions)
    outcome = _Outcome([0.0] * count, [("", NO_GROUP)] * count, [False] * count)
    for members in problem.tiers:
        held_here = [0.0] * len(capacity)
        admitted, refused = admit(
            members,
            problem.floor,
            problem.groups_of,
            capacity,
            (held_above, held_here),
            problem.running,
            problem.due,
        )
        current, bound = fill(admitted, problem.floor, problem.ceiling, problem.groups_of, capacity)
        for i in admitted:
            amps = max(problem.specs[i].round_down(current[i]), problem.floor[i])
            leftover = current[i] - amps
            if leftover > 0:
                for g in problem.groups_of[i]:
                    capacity[g] += leftover
            outcome.amps[i] = amps
            outcome.rounded[i] = bool(problem.specs[i].steps) and leftover > 0.05
            if bound[i] != NO_GROUP:
                outcome.reasons[i] = ("group", bound[i])
            else:
                outcome.reasons[i] = ("cap" if problem.capped[i] else "max", NO_GROUP)
        for i, refusal in refused.items():
            outcome.reasons[i] = ("held" if refusal.held else "refused", refusal.group)
        held_above = [a + h for a, h in zip(held_above, held_here, strict=True)]
    return outcome


def _result(
    tree: CircuitTree,
    capacities: list[NodeCapacity],
    problem: _Problem,
    outcome: _Outcome,
    memories: list[SessionMemory | None],
    gives: list[GiveBack],
    settings: Settings,
    now: float,
) -> AllocationResult:
    limits = {sid: StationLimit(0.0, IDLE) for sid in tree.placements}
    allocated = [[0.0, 0.0, 0.0] for _ in tree.nodes]
    memory_out: dict[str, SessionMemory] = {}
    for i, session in enumerate(problem.sessions):
        amps = outcome.amps[i]
        placement = tree.placements[session.station_id]
        for n in placement.path:
            for p in placement.site_phases:
                allocated[n][p] += amps
        text = _explain(tree, capacities, problem, outcome, i, settings)
        limits[session.station_id] = StationLimit(amps, text)
        memory_out[session.station_id] = remember(memories[i], session, amps, gives[i], now)
    return AllocationResult(
        limits=limits,
        available={node.id: capacities[n].available for n, node in enumerate(tree.nodes)},
        allocated={
            node.id: (a[0], a[1], a[2]) for node, a in zip(tree.nodes, allocated, strict=True)
        },
        state=AllocationState(memory_out),
    )


def _explain(
    tree: CircuitTree,
    capacities: list[NodeCapacity],
    problem: _Problem,
    outcome: _Outcome,
    i: int,
    settings: Settings,
) -> str:
    """The binding constraint of session i in words."""
    kind, where = outcome.reasons[i]
    spec = problem.specs[i]
    imbalance = settings.imbalance_limit_a or 0.0

    def group(g: int) -> str:
        n, p = divmod(g, 3)
        if n == len(tree.nodes):
            return f"phase imbalance limit {imbalance:g} A on {Phase(p).name}"
        return capacities[n].describe(tree.nodes[n].name, Phase(p))

    if kind == "max":
        text = f"station max {spec.ceiling_a:g} A"
    elif kind == "cap":
        draw = problem.sessions[i].draw() or 0.0
        text = (
            f"car draws less (given back: draws {draw:.1f} A, capped at {problem.ceiling[i]:g} A)"
        )
    elif kind == "group":
        text = group(where)
    elif kind == "refused":
        return f"paused: not enough for minimum {spec.floor_a:g} A on {group(where)} (rotation)"
    elif kind == "held":
        return f"paused: waiting for its turn on {group(where)} (rotation)"
    elif kind == "imbalance":
        return f"phase imbalance limit {imbalance:g} A on {Phase(where).name}"
    else:
        return f"paused: phase imbalance limit {imbalance:g} A on {Phase(where).name}"
    if outcome.rounded[i]:
        text += f" (rounded down to step {outcome.amps[i]:g} A)"
    return text
