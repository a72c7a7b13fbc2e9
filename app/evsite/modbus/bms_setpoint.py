"""The BMS site-limit setpoint with its watchdog: stale setpoints fall back to a safe value."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from evsite.clock import Clock


@dataclass(frozen=True)
class EffectiveSetpoint:
    """The BMS-side site limit in force: the BMS's value while fresh, else the fallback."""

    limit_a: float | None
    source: Literal["bms", "fallback"]


class SetpointWatchdog:
    """Holds the last BMS setpoint and drops it when the BMS stops refreshing it."""

    def __init__(
        self,
        *,
        clock: Clock,
        watchdog_s: float,
        fallback_a: float | None,
        max_a: float,
        on_change: Callable[[EffectiveSetpoint], None] | None = None,
    ) -> None:
        if watchdog_s <= 0:
            raise ValueError("watchdog_s must be positive")
        if max_a <= 0:
            raise ValueError("max_a must be positive")
        if fallback_a is not None and not 0 <= fallback_a <= max_a:
            raise ValueError(f"fallback_a must be within 0..{max_a}")
        self._clock = clock
        self.watchdog_s = watchdog_s
        self.fallback_a = fallback_a
        self.max_a = max_a
        self._on_change = on_change
        self._value: float | None = None
        self._written_at = 0.0
        self._effective = EffectiveSetpoint(fallback_a, "fallback")
        self.writes = 0
        self.expiries = 0

    def write(self, amps: float) -> None:
        """Accept a setpoint from the BMS (refreshing the watchdog); ValueError if out of range."""
        if not math.isfinite(amps) or not 0 <= amps <= self.max_a:
            raise ValueError(f"setpoint {amps} A outside 0..{self.max_a} A")
        self._value = amps
        self._written_at = self._clock.monotonic()
        self.writes += 1
        self._publish(EffectiveSetpoint(amps, "bms"))

    def remaining_s(self) -> float | None:
        """Seconds until the current setpoint expires, or None when none applies."""
        if self._value is None:
            return None
        return max(0.0, self._written_at + self.watchdog_s - self._clock.monotonic())

    def check(self) -> EffectiveSetpoint:
        """Expire a stale setpoint (notifying the change) and return what is in force."""
        if self._value is not None and self.remaining_s() == 0.0:
            self._value = None
            self.expiries += 1
            self._publish(EffectiveSetpoint(self.fallback_a, "fallback"))
        return self._effective

    def clear(self) -> EffectiveSetpoint:
        """Drop any BMS setpoint now (server stopped); the fallback applies."""
        self._value = None
        self._publish(EffectiveSetpoint(self.fallback_a, "fallback"))
        return self._effective

    @property
    def effective(self) -> EffectiveSetpoint:
        """What is in force, as of the last write or check."""
        return self._effective

    def _publish(self, new: EffectiveSetpoint) -> None:
        if new == self._effective:
            return
        self._effective = new
        if self._on_change is not None:
            self._on_change(new)
