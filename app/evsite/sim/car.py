"""A simulated electric car: battery, maximum current, charging curve."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass
class Car:
    """A car that charges following the limit it is given and its own curve."""

    badge: str
    battery_wh: float
    soc: float  # state of charge 0..1
    max_current_a: float
    phases: int
    target_soc: float = 0.9
    voltage_v: float = 230.0

    @classmethod
    def random(cls, rng: random.Random, badge: str) -> Car:
        """A plausible car: 40-100 kWh, 20-60 % charged, 16 or 32 A, 1 or 3 phases."""
        phases = rng.choice((1, 3, 3, 3))
        return cls(
            badge=badge,
            battery_wh=rng.uniform(40_000, 100_000),
            soc=rng.uniform(0.2, 0.6),
            max_current_a=rng.choice((16.0, 16.0, 32.0)),
            phases=phases,
            target_soc=rng.uniform(0.8, 1.0),
        )

    def acceptable_current(self) -> float:
        """What the car would draw without a limit: tapers above 80 % charge."""
        if self.soc >= self.target_soc:
            return 0.0
        if self.soc <= 0.8:
            return self.max_current_a
        # Constant-voltage phase: the current falls linearly to 10 % at full.
        return self.max_current_a * max(0.1, 1.0 - (self.soc - 0.8) / 0.2 * 0.9)

    def draw(self, limit_a: float) -> float:
        """The current per phase the car draws under a limit (below 6 A it cannot charge)."""
        current = min(limit_a, self.acceptable_current())
        return current if current >= 6.0 else 0.0

    def charge(self, current_a: float, seconds: float) -> float:
        """Charge for a while; return the energy taken in Wh."""
        energy = current_a * self.voltage_v * self.phases * seconds / 3600.0
        self.soc = min(1.0, self.soc + energy / self.battery_wh)
        return energy

    @property
    def full(self) -> bool:
        """True once the car has reached its target."""
        return self.soc >= self.target_soc
