"""Reconnect timing: exponential back-off with full jitter, and a pacer against herds.

Full jitter (a delay drawn uniformly from 0 to the exponential cap) spreads
links that failed together; the pacer spaces connection attempts across all
links, so that after a reboot hundreds of links come back over seconds instead
of in one burst.
"""

from __future__ import annotations

import random


class Backoff:
    """Delays between attempts: uniform(0, min(cap, base * 2**attempt))."""

    def __init__(self, base: float, cap: float, rng: random.Random) -> None:
        self._base = base
        self._cap = cap
        self._rng = rng
        self._attempt = 0

    @property
    def attempt(self) -> int:
        """Failures since the last success."""
        return self._attempt

    def ceiling(self) -> float:
        """The upper bound of the next delay."""
        return float(min(self._cap, self._base * 2 ** min(self._attempt, 60)))

    def next_delay(self) -> float:
        """The delay before the next attempt; counts one more failure."""
        delay = float(self._rng.uniform(0, self.ceiling()))
        self._attempt += 1
        return delay

    def reset(self) -> None:
        """A connection succeeded."""
        self._attempt = 0


class Pacer:
    """Hands out connection slots at most `rate` per second, with a small burst."""

    def __init__(self, rate: float, burst: int = 5) -> None:
        self._interval = 1.0 / rate
        self._burst = burst
        self._next_free = float("-inf")

    def reserve(self, now: float) -> float:
        """Take the next slot; return how long to wait for it (0 when free now)."""
        # A burst's worth of slots may be taken at once; after that one per interval.
        start = max(self._next_free, now - self._interval * (self._burst - 1))
        self._next_free = start + self._interval
        return max(0.0, start - now)
