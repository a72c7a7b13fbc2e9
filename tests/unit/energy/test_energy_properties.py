"""Property tests of allocate() over random circuit trees, wiring, limits, loads and priorities."""

from __future__ import annotations

import dataclasses
import math

from energy_trees import (
    Scenario,
    check_safety,
    clone,
    constraint_of,
    same_spec,
    scenarios,
    settings,
    trees,
)
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from evsite.energy import (
    AllocationResult,
    AllocationState,
    CircuitTree,
    Mode,
    Node,
    Session,
    Settings,
    allocate,
)

FAST = hsettings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SIMS = hsettings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run(scn: Scenario, state: AllocationState | None = None, now: float = 0.0) -> AllocationResult:
    return allocate(
        scn.tree, scn.readings, scn.sessions, scn.settings, state or AllocationState(), now
    )


def check_vip_first(scn: Scenario, result: AllocationResult) -> None:
    active = [s for s in scn.sessions if s.active]
    for v in (s for s in active if s.vip):
        for n in (s for s in active if not s.vip):
            sv, sn = scn.tree.station(v.station_id), scn.tree.station(n.station_id)
            lv, ln = result.limits[v.station_id], result.limits[n.station_id]
            if same_spec(sv, sn) and constraint_of(lv.binding) == constraint_of(ln.binding):
                assert lv.amps >= ln.amps, (lv, ln)


@FAST
@given(scenarios())
def test_no_node_phase_over_available_and_every_session_zero_or_in_range(scn: Scenario) -> None:
    check_safety(scn, run(scn))


@FAST
@given(st.data())
def test_vip_never_gets_less_than_non_vip_on_the_same_constraint(data: st.DataObject) -> None:
    """A twin of a random session with the VIP flag flipped, its station at any priority."""
    scn = data.draw(scenarios())
    active = [s for s in scn.sessions if s.active]
    if active:
        original = data.draw(st.sampled_from(active))
        priority = data.draw(st.integers(0, 3))
        tree = CircuitTree(_with_clones(scn.tree.root, original.station_id, 1, priority))
        twin = dataclasses.replace(
            original, station_id=f"{original.station_id}-copy0", vip=not original.vip
        )
        scn = Scenario(tree, scn.readings, [*scn.sessions, twin], scn.settings)
    result = run(scn)
    check_safety(scn, result)
    check_vip_first(scn, result)


def _with_clones(node: Node, sid: str, copies: int, priority: int | None = None) -> Node:
    stations = node.stations
    for spec in node.stations:
        if spec.id == sid:
            stations += tuple(clone(spec, f"{sid}-copy{k}", priority) for k in range(copies))
    children = tuple(_with_clones(c, sid, copies, priority) for c in node.children)
    return dataclasses.replace(node, stations=stations, children=children)


@FAST
@given(st.data())
def test_equal_sessions_get_equal_shares(data: st.DataObject) -> None:
    scn = data.draw(scenarios())
    active = [s for s in scn.sessions if s.active]
    if not active:
        return
    original = data.draw(st.sampled_from(active))
    copies = data.draw(st.integers(1, 3))
    tree = CircuitTree(_with_clones(scn.tree.root, original.station_id, copies))
    twins = [
        dataclasses.replace(original, station_id=f"{original.station_id}-copy{k}")
        for k in range(copies)
    ]
    scn = Scenario(tree, scn.readings, [*scn.sessions, *twins], scn.settings)
    result = run(scn)
    check_safety(scn, result)
    group = [original.station_id, *(t.station_id for t in twins)]
    running = {result.limits[sid].amps for sid in group if result.limits[sid].amps > 0}
    assert len(running) <= 1, [result.limits[sid] for sid in group]


@SIMS
@given(st.data())
def test_safety_holds_over_time_with_changing_draws(data: st.DataObject) -> None:
    """Give-back, rotation and holds in play: every call stays within every limit."""
    scn = data.draw(scenarios())
    state, now = AllocationState(), 0.0
    for _ in range(data.draw(st.integers(2, 12))):
        result = run(scn, state, now)
        check_safety(scn, result)
        check_vip_first_over_time(scn, result)
        state = result.state
        now += data.draw(st.sampled_from((1.0, 30.0, 61.0, 300.0, 901.0)))
        sessions = []
        for s in scn.sessions:
            limit = result.limits[s.station_id].amps
            # The car draws at most its limit, often less (give-back), sometimes stops.
            draw = data.draw(st.sampled_from((limit, limit, limit * 0.5, 0.0)))
            measured = tuple(draw for _ in range(3))
            active = s.active if data.draw(st.integers(0, 9)) else not s.active
            sessions.append(dataclasses.replace(s, measured=measured, active=active))
        scn = dataclasses.replace(scn, sessions=sessions)


def check_vip_first_over_time(scn: Scenario, result: AllocationResult) -> None:
    """With give-back in play a capped VIP may get less; uncapped ones still come first."""
    capped = {
        sid for sid, mem in result.state.sessions.items() if mem.cap is not None or mem.low_since
    }
    kept = [s for s in scn.sessions if s.station_id not in capped]
    check_vip_first(dataclasses.replace(scn, sessions=kept), result)


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_no_session_stays_paused_beyond_the_rotation_bound(data: st.DataObject) -> None:
    """When each session could run alone, a paused one resumes within the rotation bound.

    Bound: a paused session becomes due after one period and then waits at
    most one more period for each due session ahead of it, so N periods for
    N sessions of one tier; plus one call interval for sampling.
    """
    tree = data.draw(trees(priorities=False))
    config = data.draw(settings(imbalance=False))
    config = dataclasses.replace(config, mode=Mode.STATIC, giveback=False)
    sessions = [
        Session(station_id=sid, started_at=-float(k)) for k, sid in enumerate(tree.placements)
    ]
    # Keep only sessions whose minimum fits on their path when nothing else runs.
    sessions = [s for s in sessions if _fits_alone(tree, s.station_id)]
    if not sessions:
        return
    scn = Scenario(tree, {}, sessions, config)
    period = config.rotation_period_s
    interval = period / 4
    bound = len(sessions) * period + interval
    paused_since: dict[str, float] = {}
    state, now = AllocationState(), 0.0
    for _ in range(4 * (len(sessions) + 3)):
        result = run(scn, state, now)
        check_safety(scn, result)
        for s in sessions:
            if result.limits[s.station_id].amps > 0:
                paused_since.pop(s.station_id, None)
            else:
                since = paused_since.setdefault(s.station_id, now)
                assert now - since <= bound, (s.station_id, now - since, bound)
        state = result.state
        now += interval


def _fits_alone(tree: CircuitTree, sid: str) -> bool:
    placement = tree.placements[sid]
    need = placement.spec.floor_a
    return all(
        tree.nodes[n].limit[p] >= need for n in placement.path for p in placement.site_phases
    )


@FAST
@given(scenarios())
def test_allocation_is_deterministic_and_pure(scn: Scenario) -> None:
    first, second = run(scn), run(scn)
    assert first.limits == second.limits
    assert first.state == second.state


@FAST
@given(scenarios())
def test_static_mode_ignores_readings(scn: Scenario) -> None:
    static = dataclasses.replace(scn, settings=Settings(mode=Mode.STATIC))
    without = dataclasses.replace(static, readings={})
    assert run(static).limits == run(without).limits
    assert all(math.isfinite(v.amps) for v in run(static).limits.values())
