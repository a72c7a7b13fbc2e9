"""Worked examples of allocate(): one behaviour per test, named by it."""

from __future__ import annotations

import pytest

from evsite.energy import (
    AllocationResult,
    AllocationState,
    CircuitTree,
    Mode,
    Node,
    Phase,
    Session,
    Settings,
    StationSpec,
    allocate,
    uniform,
)

L1, L2, L3 = Phase.L1, Phase.L2, Phase.L3


def one_feeder(*stations: StationSpec, site: float = 100, feeder: float = 100) -> CircuitTree:
    """site contract -> feeder B -> stations."""
    b = Node(id="b", name="feeder B", limit=uniform(feeder), stations=stations)
    return CircuitTree(Node(id="site", name="site contract", limit=uniform(site), children=(b,)))


def run(
    tree: CircuitTree,
    *sessions: Session,
    readings: dict[str, tuple[float, float, float]] | None = None,
    settings: Settings | None = None,
    state: AllocationState | None = None,
    now: float = 0.0,
) -> AllocationResult:
    return allocate(
        tree, readings or {}, sessions, settings or Settings(), state or AllocationState(), now
    )


def amps(result: AllocationResult) -> dict[str, float]:
    return {sid: limit.amps for sid, limit in result.limits.items()}


def test_one_phase_station_on_l2_only_loads_l2() -> None:
    tree = one_feeder(StationSpec(id="a", phases=1, wiring=(L2,), max_a=32))
    result = run(tree, Session(station_id="a"))
    assert result.limits["a"].amps == 32
    assert result.allocated["site"] == (0.0, 32.0, 0.0)
    assert result.allocated["b"] == (0.0, 32.0, 0.0)


def test_one_phase_stations_on_different_phases_do_not_compete() -> None:
    tree = one_feeder(
        StationSpec(id="a", phases=1, wiring=(L1,), max_a=32),
        StationSpec(id="b", phases=1, wiring=(L3,), max_a=32),
        feeder=20,
    )
    result = run(tree, Session(station_id="a"), Session(station_id="b"))
    assert amps(result) == {"a": 20, "b": 20}


def test_rotated_three_phase_station_is_bound_by_its_site_phase() -> None:
    b = Node(
        id="b",
        name="feeder B",
        limit=(63, 10, 63),
        stations=(StationSpec(id="a", max_a=32, wiring=(L2, L3, L1)),),
    )
    tree = CircuitTree(Node(id="site", name="site", limit=uniform(100), children=(b,)))
    result = run(tree, Session(station_id="a"))
    assert result.limits["a"].amps == 10
    assert result.limits["a"].binding == "L2 of feeder B at 10 A"
    assert result.allocated["site"] == (10.0, 10.0, 10.0)


def test_feeder_limit_binds_and_is_named() -> None:
    b = Node(
        id="b",
        name="feeder B",
        limit=(80, 63, 80),
        stations=tuple(StationSpec(id=f"s{k}", max_a=32) for k in range(3)),
    )
    tree = CircuitTree(Node(id="site", name="site", limit=uniform(200), children=(b,)))
    result = run(tree, *(Session(station_id=f"s{k}") for k in range(3)))
    assert all(limit.amps == 21 for limit in result.limits.values())
    assert result.limits["s0"].binding == "L2 of feeder B at 63 A"


def test_station_max_binds_and_is_named() -> None:
    tree = one_feeder(StationSpec(id="a", max_a=16))
    result = run(tree, Session(station_id="a"))
    assert result.limits["a"].amps == 16
    assert result.limits["a"].binding == "station max 16 A"


def test_equal_sessions_share_a_feeder_equally() -> None:
    tree = one_feeder(*(StationSpec(id=f"s{k}", max_a=32) for k in range(4)), feeder=50)
    result = run(tree, *(Session(station_id=f"s{k}") for k in range(4)))
    assert set(amps(result).values()) == {12.5}


def test_water_filling_gives_the_rest_to_those_that_can_use_it() -> None:
    tree = one_feeder(
        StationSpec(id="small", max_a=10),
        StationSpec(id="big1", max_a=32),
        StationSpec(id="big2", max_a=32),
        feeder=50,
    )
    result = run(tree, *(Session(station_id=s) for s in ("small", "big1", "big2")))
    assert amps(result) == {"small": 10, "big1": 20, "big2": 20}


def test_vip_served_before_fair_share() -> None:
    tree = one_feeder(*(StationSpec(id=f"s{k}", max_a=32) for k in range(3)), feeder=50)
    result = run(
        tree,
        Session(station_id="s0", vip=True),
        Session(station_id="s1"),
        Session(station_id="s2"),
    )
    assert amps(result) == {"s0": 32, "s1": 9, "s2": 9}
    assert result.limits["s0"].binding == "station max 32 A"


def test_higher_station_priority_served_first() -> None:
    tree = one_feeder(
        StationSpec(id="fleet", max_a=32, priority=1),
        StationSpec(id="guest", max_a=32),
        feeder=40,
    )
    result = run(tree, Session(station_id="fleet"), Session(station_id="guest"))
    assert amps(result) == {"fleet": 32, "guest": 8}


def test_vip_outranks_station_priority() -> None:
    tree = one_feeder(
        StationSpec(id="fleet", max_a=32, priority=5),
        StationSpec(id="guest", max_a=32),
        feeder=40,
    )
    result = run(tree, Session(station_id="fleet"), Session(station_id="guest", vip=True))
    assert amps(result) == {"fleet": 8, "guest": 32}


def test_allocation_rounds_down_to_allowed_step() -> None:
    tree = one_feeder(
        StationSpec(id="a", max_a=16, steps=(6, 8, 10, 13, 16)),
        StationSpec(id="b", max_a=16, steps=(6, 8, 10, 13, 16)),
        feeder=24,
    )
    result = run(tree, Session(station_id="a"), Session(station_id="b"))
    assert amps(result) == {"a": 10, "b": 10}
    assert result.limits["a"].binding == ("L1 of feeder B at 24 A (rounded down to step 10 A)")


def test_rounding_leftover_goes_to_a_lower_tier() -> None:
    tree = one_feeder(
        StationSpec(id="vip", max_a=20, steps=(6, 10, 20)),
        StationSpec(id="other", max_a=32),
        feeder=19,
    )
    result = run(tree, Session(station_id="vip", vip=True), Session(station_id="other"))
    # The VIP could take 19 A but only 10 A is a step; the other car gets the 9 A left.
    assert amps(result) == {"vip": 10, "other": 9}


def test_not_enough_for_minimum_pauses_some_and_the_others_get_at_least_minimum() -> None:
    tree = one_feeder(*(StationSpec(id=f"s{k}", max_a=32) for k in range(4)), feeder=14)
    result = run(tree, *(Session(station_id=f"s{k}") for k in range(4)))
    values = sorted(amps(result).values())
    assert values == [0, 0, 7, 7]
    paused = [lim for lim in result.limits.values() if lim.amps == 0]
    assert paused[0].binding == (
        "paused: not enough for minimum 6 A on L1 of feeder B at 14 A (rotation)"
    )


def test_dynamic_mode_subtracts_building_load() -> None:
    tree = CircuitTree(
        Node(
            id="site",
            name="site contract",
            limit=uniform(40),
            metered=True,
            stations=(StationSpec(id="a", max_a=32),),
        )
    )
    result = run(
        tree,
        Session(station_id="a"),
        readings={"site": (30, 12, 5)},
        settings=Settings(mode=Mode.DYNAMIC),
    )
    assert result.available["site"] == (10.0, 28.0, 35.0)
    assert result.limits["a"].amps == 10
    assert result.limits["a"].binding == "L1 of site contract at 40 A (building load 30.0 A)"


def test_building_load_excludes_what_the_stations_draw() -> None:
    tree = CircuitTree(
        Node(
            id="site",
            name="site contract",
            limit=uniform(40),
            metered=True,
            stations=(StationSpec(id="a", max_a=32),),
        )
    )
    # The meter sees 30 A on L1, of which the car draws 16 A: the building uses 14 A.
    result = run(
        tree,
        Session(station_id="a", measured=(16, 16, 16)),
        readings={"site": (30, 16, 16)},
        settings=Settings(mode=Mode.DYNAMIC),
    )
    assert result.available["site"] == (26.0, 40.0, 40.0)
    assert result.limits["a"].amps == 26


def test_static_mode_ignores_meter_readings() -> None:
    tree = CircuitTree(
        Node(
            id="site",
            name="site",
            limit=uniform(40),
            metered=True,
            stations=(StationSpec(id="a", max_a=32),),
        )
    )
    result = run(tree, Session(station_id="a"), readings={"site": (39, 39, 39)})
    assert result.limits["a"].amps == 32


def test_stale_meter_falls_back_to_the_fallback_limit() -> None:
    tree = CircuitTree(
        Node(
            id="site",
            name="site",
            limit=uniform(40),
            metered=True,
            fallback=uniform(10),
            stations=(StationSpec(id="a", max_a=32),),
        )
    )
    result = run(tree, Session(station_id="a"), settings=Settings(mode=Mode.DYNAMIC))
    assert result.limits["a"].amps == 10
    assert result.limits["a"].binding == "L1 of site at 40 A (no meter reading: fallback 10 A)"


def test_stale_meter_without_fallback_stops_charging() -> None:
    tree = CircuitTree(
        Node(
            id="site",
            name="site",
            limit=uniform(40),
            metered=True,
            stations=(StationSpec(id="a", max_a=32),),
        )
    )
    result = run(tree, Session(station_id="a"), settings=Settings(mode=Mode.DYNAMIC))
    assert result.limits["a"].amps == 0


def test_unreadable_meter_value_counts_as_stale() -> None:
    tree = CircuitTree(
        Node(
            id="site",
            name="site",
            limit=uniform(40),
            metered=True,
            fallback=uniform(8),
            stations=(StationSpec(id="a", max_a=32),),
        )
    )
    result = run(
        tree,
        Session(station_id="a"),
        readings={"site": (float("nan"), 0, 0)},
        settings=Settings(mode=Mode.DYNAMIC),
    )
    assert result.limits["a"].amps == 8


def test_unmetered_feeder_is_limited_by_its_configured_limit_only() -> None:
    b = Node(id="b", name="feeder B", limit=uniform(20), stations=(StationSpec(id="a", max_a=32),))
    site = Node(id="site", name="site", limit=uniform(100), metered=True, children=(b,))
    result = run(
        CircuitTree(site),
        Session(station_id="a"),
        readings={"site": (50, 50, 50)},
        settings=Settings(mode=Mode.DYNAMIC),
    )
    assert result.limits["a"].amps == 20
    assert result.limits["a"].binding == "L1 of feeder B at 20 A"


def test_inactive_session_and_idle_station_get_zero() -> None:
    tree = one_feeder(StationSpec(id="a", max_a=32), StationSpec(id="b", max_a=32))
    result = run(tree, Session(station_id="a", active=False))
    assert amps(result) == {"a": 0, "b": 0}
    assert result.limits["b"].binding == "no active session"


def test_imbalance_limit_caps_single_phase_load() -> None:
    tree = one_feeder(
        StationSpec(id="a", phases=1, wiring=(L1,), max_a=32),
        StationSpec(id="b", phases=1, wiring=(L2,), max_a=10),
    )
    result = run(
        tree,
        Session(station_id="a"),
        Session(station_id="b"),
        settings=Settings(imbalance_limit_a=16),
    )
    assert amps(result) == {"a": 16, "b": 10}
    assert result.limits["a"].binding == "phase imbalance limit 16 A on L1"


def test_three_phase_stations_do_not_count_toward_imbalance() -> None:
    tree = one_feeder(
        StationSpec(id="a", max_a=32),
        StationSpec(id="b", phases=1, wiring=(L3,), max_a=16),
    )
    result = run(
        tree,
        Session(station_id="a"),
        Session(station_id="b"),
        settings=Settings(imbalance_limit_a=16),
    )
    assert amps(result) == {"a": 32, "b": 16}


def test_session_for_unknown_station_is_refused() -> None:
    tree = one_feeder(StationSpec(id="a", max_a=32))
    with pytest.raises(ValueError, match="unknown station 'ghost'"):
        run(tree, Session(station_id="ghost"))


def test_two_sessions_on_one_station_are_refused() -> None:
    tree = one_feeder(StationSpec(id="a", max_a=32))
    with pytest.raises(ValueError, match="two sessions for station 'a'"):
        run(tree, Session(station_id="a"), Session(station_id="a"))


def test_reading_for_unknown_node_is_refused() -> None:
    tree = one_feeder(StationSpec(id="a", max_a=32))
    with pytest.raises(ValueError, match="unknown circuit nodes: attic"):
        run(tree, Session(station_id="a"), readings={"attic": (1, 1, 1)})
