"""Reconnect timing: full-jitter back-off and the pacer that spreads a reboot's reconnections."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from evsite.uplink.backoff import Backoff, Pacer


def test_backoff_ceiling_doubles_up_to_the_cap_and_resets() -> None:
    backoff = Backoff(1.0, 30.0, random.Random(1))
    ceilings = []
    for _ in range(7):
        ceilings.append(backoff.ceiling())
        backoff.next_delay()
    assert ceilings == [1, 2, 4, 8, 16, 30, 30]
    backoff.reset()
    assert backoff.ceiling() == 1


@given(st.integers(min_value=0, max_value=200), st.integers(min_value=0, max_value=2**32))
def test_full_jitter_delays_stay_within_zero_and_the_ceiling(failures: int, seed: int) -> None:
    backoff = Backoff(0.5, 300.0, random.Random(seed))
    for _ in range(failures):
        backoff.next_delay()
    ceiling = backoff.ceiling()
    assert 0 <= backoff.next_delay() <= ceiling


def test_links_failing_together_do_not_retry_together() -> None:
    rng = random.Random(3)
    delays = [Backoff(1.0, 60.0, rng) for _ in range(100)]
    for b in delays:
        for _ in range(4):
            b.next_delay()
    spread = sorted(b.next_delay() for b in delays)
    assert spread[-1] - spread[0] > 8  # spread over most of the 16 s window


def test_pacer_allows_a_burst_then_one_per_interval() -> None:
    pacer = Pacer(rate=10, burst=5)
    waits = [pacer.reserve(now=100.0) for _ in range(8)]
    assert waits[:5] == [0, 0, 0, 0, 0]
    assert [round(w, 3) for w in waits[5:]] == [0.1, 0.2, 0.3]


def test_after_a_reboot_five_hundred_links_come_back_over_time_not_at_once() -> None:
    pacer = Pacer(rate=20, burst=5)
    waits = [pacer.reserve(now=0.0) for _ in range(500)]
    within_first_second = sum(1 for w in waits if w < 1.0)
    assert within_first_second <= 25
    assert max(waits) >= 24


def test_pacer_slots_free_up_as_time_passes() -> None:
    pacer = Pacer(rate=1, burst=1)
    assert pacer.reserve(0.0) == 0
    assert pacer.reserve(0.0) == 1.0
    assert pacer.reserve(10.0) == 0
