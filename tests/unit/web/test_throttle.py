"""Login throttling per account name and per address."""

from __future__ import annotations

from evsite.clock import FakeClock
from evsite.web.throttle import LoginThrottle


def test_account_is_blocked_after_free_failures_with_doubling_delay() -> None:
    clock = FakeClock()
    t = LoginThrottle(clock, free_per_account=3, base_s=2)
    for _ in range(3):
        assert t.retry_after("alice", "192.0.2.1") == 0
        t.failed("alice", "192.0.2.1")
    assert t.retry_after("alice", "192.0.2.1") == 0
    t.failed("alice", "192.0.2.1")
    assert t.retry_after("alice", "192.0.2.2") == 2  # the account is blocked from anywhere
    clock.advance(2)
    t.failed("alice", "192.0.2.3")
    assert t.retry_after("alice", "192.0.2.4") == 4


def test_unknown_names_are_throttled_exactly_like_known_ones() -> None:
    t = LoginThrottle(FakeClock(), free_per_account=2)
    for name in ("alice", "nobody-here"):
        for _ in range(3):
            t.failed(name, f"198.51.100.{len(name)}")
    assert t.retry_after("alice", "203.0.113.1") == t.retry_after("nobody-here", "203.0.113.1")


def test_an_address_trying_many_names_is_blocked() -> None:
    t = LoginThrottle(FakeClock(), free_per_address=5)
    for n in range(6):
        t.failed(f"user{n}", "192.0.2.9")
    assert t.retry_after("someone-new", "192.0.2.9") > 0
    assert t.retry_after("someone-new", "192.0.2.10") == 0


def test_success_clears_the_account_and_delay_is_capped() -> None:
    clock = FakeClock()
    t = LoginThrottle(clock, free_per_account=1, free_per_address=1000, max_s=60)
    for _ in range(20):
        t.failed("bob", "192.0.2.1")
    assert t.retry_after("bob", "192.0.2.1") == 60
    t.succeeded("bob", "192.0.2.1")
    assert t.retry_after("bob", "192.0.2.1") == 0


def test_memory_stays_bounded() -> None:
    t = LoginThrottle(FakeClock(), max_keys=100)
    for n in range(1000):
        t.failed(f"u{n}", f"a{n}")
    assert len(t._failures) <= 102
