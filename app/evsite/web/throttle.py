"""Login throttling per account name and per source address, in memory."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from evsite.clock import Clock


@dataclass
class _Failures:
    count: int
    blocked_until: float
    last: float


class LoginThrottle:
    """After `free` failures, each further one blocks the key for a doubling time.

    Keys are the account name as typed (so unknown names are throttled exactly
    like real ones and reveal nothing) and the source address, with a higher
    allowance for the address since several people may share one NAT.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        free_per_account: int = 5,
        free_per_address: int = 20,
        base_s: float = 2.0,
        max_s: float = 900.0,
        max_keys: int = 10_000,
    ) -> None:
        self._clock = clock
        self._free = {"account": free_per_account, "address": free_per_address}
        self._base_s = base_s
        self._max_s = max_s
        self._max_keys = max_keys
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], _Failures] = {}

    def _keys(self, username: str, address: str) -> list[tuple[str, str]]:
        return [("account", username.lower()), ("address", address)]

    def retry_after(self, username: str, address: str) -> float:
        """Seconds until a login attempt may be tried again (0 = now)."""
        now = self._clock.monotonic()
        with self._lock:
            waits = [
                f.blocked_until - now
                for key in self._keys(username, address)
                if (f := self._failures.get(key)) is not None
            ]
        return max([0.0, *waits])

    def failed(self, username: str, address: str) -> None:
        """Count a failed attempt."""
        now = self._clock.monotonic()
        with self._lock:
            if len(self._failures) >= self._max_keys:
                self._forget_idle(now)
            for key in self._keys(username, address):
                entry = self._failures.setdefault(key, _Failures(0, 0.0, now))
                if now - entry.last > self._max_s:  # quiet for long enough: start afresh
                    entry.count = 0
                entry.count += 1
                entry.last = now
                over = entry.count - self._free[key[0]]
                if over > 0:
                    entry.blocked_until = now + min(self._max_s, self._base_s * 2 ** (over - 1))

    def succeeded(self, username: str, address: str) -> None:
        """Forget the failures of the account (not of the address)."""
        with self._lock:
            self._failures.pop(("account", username.lower()), None)

    def _forget_idle(self, now: float) -> None:
        # Drop entries no longer blocking; if all are blocking, drop the oldest half.
        idle = [k for k, f in self._failures.items() if f.last + self._max_s < now]
        for key in (
            idle
            or sorted(self._failures, key=lambda k: self._failures[k].blocked_until)[
                : self._max_keys // 2
            ]
        ):
            del self._failures[key]
