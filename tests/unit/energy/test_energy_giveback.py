"""Give-back: a car that draws clearly less than offered yields the rest, and gets it back."""

from __future__ import annotations

from evsite.energy import (
    AllocationResult,
    AllocationState,
    CircuitTree,
    Node,
    Session,
    Settings,
    StationSpec,
    allocate,
    uniform,
)

TREE = CircuitTree(
    Node(id="site", name="site", limit=uniform(40), stations=(
        StationSpec(id="a", max_a=32),
        StationSpec(id="b", max_a=32),
    ))
)  # fmt: skip


def step(
    state: AllocationState,
    now: float,
    draw_a: float,
    settings: Settings | None = None,
    offered: float | None = None,
) -> AllocationResult:
    sessions = [
        Session(station_id="a", measured=(draw_a, draw_a, draw_a), offered=offered),
        Session(station_id="b", measured=(20, 20, 20)),
    ]
    return allocate(TREE, {}, sessions, settings or Settings(), state, now)


def test_car_drawing_less_keeps_its_share_until_the_delay_passes() -> None:
    first = step(AllocationState(), 0, 0)
    assert first.limits["a"].amps == 20
    low = step(first.state, 1, 8)
    assert low.limits["a"].amps == 20
    still = step(low.state, 60, 8)
    assert still.limits["a"].amps == 20


def test_car_drawing_less_is_capped_and_its_share_goes_to_others() -> None:
    state = step(AllocationState(), 0, 0).state
    state = step(state, 1, 8).state
    capped = step(state, 61, 8)
    assert capped.limits["a"].amps == 10
    assert capped.limits["a"].binding == "car draws less (given back: draws 8.0 A, capped at 10 A)"
    assert capped.limits["b"].amps == 30


def test_capped_car_stays_capped_while_it_draws_the_same() -> None:
    state = step(AllocationState(), 0, 0).state
    state = step(state, 1, 8).state
    state = step(state, 61, 8).state
    for now in (62, 200, 1000):
        result = step(state, now, 8.2)
        assert result.limits["a"].amps == 10
        state = result.state


def test_capped_car_gets_its_share_back_when_its_draw_rises() -> None:
    state = step(AllocationState(), 0, 0).state
    state = step(state, 1, 8).state
    state = step(state, 61, 8).state
    back = step(state, 62, 9.5)
    assert back.limits["a"].amps == 20
    assert back.limits["b"].amps == 20


def test_draw_compared_with_what_the_station_was_offered_not_the_target() -> None:
    # The control loop is still ramping a up: it was offered 10 A, draws 9.5 A.
    state = step(AllocationState(), 0, 0).state
    state = step(state, 1, 9.5, offered=10).state
    result = step(state, 100, 9.5, offered=10)
    assert result.limits["a"].amps == 20


def test_giveback_can_be_switched_off() -> None:
    off = Settings(giveback=False)
    state = step(AllocationState(), 0, 0, off).state
    state = step(state, 1, 2, off).state
    assert step(state, 500, 2, off).limits["a"].amps == 20


def test_cap_is_never_below_the_station_minimum() -> None:
    state = step(AllocationState(), 0, 0).state
    state = step(state, 1, 1).state
    capped = step(state, 61, 1)
    assert capped.limits["a"].amps == 6
