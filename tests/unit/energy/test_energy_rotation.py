"""Pausing and rotation: who waits, for how long, and who may not jump the queue."""

from __future__ import annotations

from evsite.energy import (
    AllocationResult,
    AllocationState,
    CircuitTree,
    Node,
    Session,
    SessionMemory,
    Settings,
    StationSpec,
    allocate,
    uniform,
)

PERIOD = 900.0


def tree(feeder: float, *stations: StationSpec) -> CircuitTree:
    b = Node(id="b", name="feeder B", limit=uniform(feeder), stations=stations)
    return CircuitTree(Node(id="site", name="site", limit=uniform(100), children=(b,)))


def running(result: AllocationResult) -> set[str]:
    return {sid for sid, limit in result.limits.items() if limit.amps > 0}


class Loop:
    """Calls allocate() as the control loop would, carrying the state along."""

    def __init__(self, circuit: CircuitTree, sessions: list[Session]) -> None:
        self.tree, self.sessions, self.state = circuit, sessions, AllocationState()

    def at(self, now: float) -> AllocationResult:
        result = allocate(self.tree, {}, self.sessions, Settings(), self.state, now)
        self.state = result.state
        return result


def one_slot(count: int) -> Loop:
    stations = [StationSpec(id=f"s{k}", max_a=16) for k in range(count)]
    sessions = [Session(station_id=f"s{k}", started_at=float(k)) for k in range(count)]
    return Loop(tree(10, *stations), sessions)


def test_paused_session_resumes_after_one_rotation_period() -> None:
    loop = one_slot(2)
    assert running(loop.at(10)) == {"s0"}
    assert running(loop.at(10 + PERIOD - 1)) == {"s0"}
    assert running(loop.at(10 + PERIOD)) == {"s1"}
    assert running(loop.at(10 + 2 * PERIOD)) == {"s0"}


def test_rotation_does_not_cut_a_fresh_turn_short() -> None:
    loop = one_slot(3)
    assert running(loop.at(0)) == {"s0"}
    assert running(loop.at(PERIOD)) == {"s1"}
    # s2 has waited a whole period too, but s1's turn has only just begun.
    assert running(loop.at(PERIOD + 5)) == {"s1"}
    assert running(loop.at(2 * PERIOD)) == {"s2"}
    assert running(loop.at(3 * PERIOD)) == {"s0"}


def test_the_session_that_ran_longest_pauses_first() -> None:
    circuit = tree(12, *(StationSpec(id=f"s{k}", max_a=16) for k in range(3)))
    state = AllocationState({
        "s0": SessionMemory(started_at=0, running_since=0, last_limit=6),
        "s1": SessionMemory(started_at=0, running_since=50, last_limit=6),
        "s2": SessionMemory(started_at=0, paused_since=0),
    })  # fmt: skip
    sessions = [Session(station_id=f"s{k}") for k in range(3)]
    result = allocate(circuit, {}, sessions, Settings(), state, 1000)
    assert running(result) == {"s1", "s2"}
    assert result.state.sessions["s0"].paused_since == 1000


def test_new_session_waits_its_turn_instead_of_preempting() -> None:
    loop = one_slot(1)
    assert running(loop.at(0)) == {"s0"}
    loop.tree = tree(10, StationSpec(id="s0", max_a=16), StationSpec(id="s1", max_a=16))
    loop.sessions = [*loop.sessions, Session(station_id="s1", started_at=2000)]
    result = loop.at(2000)
    assert running(result) == {"s0"}
    assert result.limits["s1"].binding.startswith("paused: not enough for minimum 6 A")
    assert running(loop.at(2000 + PERIOD)) == {"s1"}


def test_waiting_session_holds_room_against_newcomers() -> None:
    circuit = tree(
        16,
        StationSpec(id="a", min_a=10, max_a=10),
        StationSpec(id="b", min_a=10, max_a=10),
        StationSpec(id="c", min_a=6, max_a=6),
    )
    state = AllocationState({
        "a": SessionMemory(started_at=0, running_since=500, last_limit=10),
        "b": SessionMemory(started_at=0, paused_since=0),
    })  # fmt: skip
    sessions = [Session(station_id=s) for s in "abc"]
    result = allocate(circuit, {}, sessions, Settings(), state, 1000)
    # a's turn is young; b is due but does not fit; c would fit in the 6 A left,
    # but starting it now would make b wait for c's turn too.
    assert running(result) == {"a"}
    assert (
        result.limits["c"].binding
        == "paused: waiting for its turn on L1 of feeder B at 16 A (rotation)"
    )
    later = allocate(circuit, {}, sessions, Settings(), result.state, 1400)
    assert running(later) == {"b", "c"}


def test_new_session_on_the_same_station_starts_afresh() -> None:
    loop = one_slot(2)
    loop.at(0)
    # s1 was paused since 0; a new car on s1 is a new session and waits from now.
    loop.sessions = [loop.sessions[0], Session(station_id="s1", started_at=500)]
    loop.at(500)
    assert running(loop.at(PERIOD)) == {"s0"}
    assert running(loop.at(500 + PERIOD)) == {"s1"}


def test_a_vip_at_full_power_keeps_a_lower_tier_paused() -> None:
    circuit = tree(16, StationSpec(id="v", max_a=16), StationSpec(id="n", max_a=16))
    loop = Loop(circuit, [Session(station_id="v", vip=True), Session(station_id="n")])
    for now in (0, PERIOD, 5 * PERIOD):
        result = loop.at(now)
        assert running(result) == {"v"}
