"""Building load for the simulated site meter: a daily curve, seeded noise, steps, station draw."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime

Phases = tuple[float, float, float]


@dataclass(frozen=True)
class LoadProfileSettings:
    """Shape of the simulated building load."""

    base_w: float = 4000.0
    peak_w: float = 25000.0
    phase_share: Phases = (0.36, 0.33, 0.31)
    noise_frac: float = 0.03
    voltage_v: float = 230.0
    power_factor: float = 0.95
    seed: int = 1
    #: Noise is constant within one period, so repeated reads agree.
    noise_period_s: float = 1.0

    def __post_init__(self) -> None:
        if self.base_w < 0 or self.peak_w < self.base_w:
            raise ValueError("need 0 <= base_w <= peak_w")
        if abs(sum(self.phase_share) - 1.0) > 1e-6 or min(self.phase_share) < 0:
            raise ValueError("phase_share must be three non-negative parts summing to 1")
        if not 0 <= self.noise_frac < 1:
            raise ValueError("noise_frac must be in [0, 1)")
        if not 0 < self.power_factor <= 1:
            raise ValueError("power_factor must be in (0, 1]")
        if self.noise_period_s <= 0:
            raise ValueError("noise_period_s must be positive")


@dataclass(frozen=True)
class PhaseLoad:
    """What the site meter sees at one moment, per phase."""

    voltages_v: Phases
    currents_a: Phases
    powers_w: Phases

    @property
    def total_w(self) -> float:
        """Sum of the phase powers."""
        return sum(self.powers_w)


def daily_shape(hour: float) -> float:
    """Office-like day in [0, 1]: low at night, a morning and a larger afternoon hump (UTC)."""
    morning = 0.75 * math.exp(-(((hour - 10.0) / 2.5) ** 2))
    afternoon = 1.0 * math.exp(-(((hour - 15.0) / 2.5) ** 2))
    return min(1.0, morning + afternoon)


class LoadProfile:
    """Deterministic building load plus a step and the stations' draw, per phase."""

    def __init__(self, settings: LoadProfileSettings | None = None) -> None:
        self.settings = settings or LoadProfileSettings()
        self._step_a: Phases = (0.0, 0.0, 0.0)
        self._stations: dict[str, Phases] = {}

    def building_w(self, moment: datetime) -> float:
        """The building's own total power at a moment, before noise."""
        s = self.settings
        hour = moment.hour + moment.minute / 60 + moment.second / 3600
        return s.base_w + (s.peak_w - s.base_w) * daily_shape(hour)

    def _noise(self, moment: datetime) -> tuple[float, float, float, float]:
        bucket = int(moment.timestamp() // self.settings.noise_period_s)
        rng = random.Random(self.settings.seed * 1_000_003 + bucket)
        n = self.settings.noise_frac
        return (rng.gauss(0, n), rng.gauss(0, n), rng.gauss(0, n), rng.uniform(-1.0, 1.0))

    def set_step(self, phase_a: Phases) -> None:
        """Add a persistent extra building current per phase (a load step); zeros remove it."""
        if any(not math.isfinite(a) for a in phase_a):
            raise ValueError("load step must be finite")
        self._step_a = phase_a

    @property
    def step_a(self) -> Phases:
        """The load step currently applied."""
        return self._step_a

    def set_station_draw(self, station_id: str, phase_a: Phases) -> None:
        """Record what a station draws per phase, so the site meter includes it."""
        if any(not math.isfinite(a) or a < 0 for a in phase_a):
            raise ValueError(f"station {station_id}: draw must be finite and >= 0")
        self._stations[station_id] = phase_a

    def clear_station_draw(self, station_id: str) -> None:
        """Forget a station's draw (stopped or removed)."""
        self._stations.pop(station_id, None)

    def stations_a(self) -> Phases:
        """Sum of all stations' draw per phase."""
        total = [0.0, 0.0, 0.0]
        for draw in self._stations.values():
            for i in range(3):
                total[i] += draw[i]
        return (total[0], total[1], total[2])

    def at(self, moment: datetime) -> PhaseLoad:
        """Voltages, currents and powers per phase at a moment."""
        s = self.settings
        n1, n2, n3, nv = self._noise(moment)
        building = self.building_w(moment)
        stations = self.stations_a()
        volts = s.voltage_v + 2.0 * nv
        voltages = (volts, volts - 0.8, volts + 0.5)
        currents: list[float] = []
        powers: list[float] = []
        for i, noise in enumerate((n1, n2, n3)):
            phase_w = max(0.0, building * s.phase_share[i] * (1.0 + noise))
            building_a = phase_w / (voltages[i] * s.power_factor) + self._step_a[i]
            currents.append(building_a + stations[i])
            # Cars charge at a power factor close to 1.
            powers.append(voltages[i] * (building_a * s.power_factor + stations[i]))
        return PhaseLoad(
            voltages_v=voltages,
            currents_a=(currents[0], currents[1], currents[2]),
            powers_w=(powers[0], powers[1], powers[2]),
        )
