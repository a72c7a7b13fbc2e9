"""A meter on a bus: reads its register map and hands out only plausible samples.

A failed read raises `MeterReadError` (never a sample with made-up or suspect
values), so the allocator can only ever see data that passed every check. Each
failure is counted by kind in `Meter.counters`; `last_good_at` and `age_s()`
tell how stale the last good sample is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from evsite.clock import Clock
from evsite.modbus.bus import BusError, ModbusBus
from evsite.modbus.registers import (
    Quantity,
    RegisterMap,
    decode_block,
    plan_reads,
    values_by_quantity,
)

Phases = tuple[float, float, float]

#: Failure kinds, in the order the status page shows them.
FAILURE_KINDS = (
    "timeout",
    "crc",
    "exception",
    "disconnected",
    "nan",
    "implausible",
    "energy_backwards",
)


@dataclass(frozen=True)
class MeterSample:
    """One good reading of a meter; all values passed the plausibility checks."""

    meter: str
    currents_a: Phases
    voltages_v: Phases
    power_w: float
    energy_import_wh: float
    timestamp: datetime
    phase_power_w: Phases | None = None


class MeterReadError(Exception):
    """A read failed or returned data that must not be trusted; `kind` says which."""

    def __init__(self, meter: str, kind: str, detail: str) -> None:
        super().__init__(f"meter {meter}: {kind}: {detail}")
        self.meter = meter
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class Plausibility:
    """Bounds beyond which a value is treated as a fault, not as a measurement."""

    max_voltage_v: float = 300.0
    max_current_a: float = 1000.0
    #: Consecutive self-consistent readings below the known energy after which
    #: the lower value is accepted as the new baseline (meter replaced or reset).
    energy_rebase_after: int = 5

    def __post_init__(self) -> None:
        if self.max_voltage_v <= 0 or self.max_current_a <= 0:
            raise ValueError("plausibility bounds must be positive")
        if self.energy_rebase_after < 1:
            raise ValueError("energy_rebase_after must be at least 1")

    @property
    def max_power_w(self) -> float:
        """Three phases at the voltage and current bounds, with 10 % slack for rounding."""
        return 3 * self.max_voltage_v * self.max_current_a * 1.1


_CURRENTS = (Quantity.CURRENT_L1, Quantity.CURRENT_L2, Quantity.CURRENT_L3)
_VOLTAGES = (Quantity.VOLTAGE_L1, Quantity.VOLTAGE_L2, Quantity.VOLTAGE_L3)
_POWERS = (Quantity.POWER_L1, Quantity.POWER_L2, Quantity.POWER_L3)
_REQUIRED = (*_CURRENTS, *_VOLTAGES, Quantity.POWER_TOTAL, Quantity.ENERGY_IMPORT)


class Meter:
    """A meter of a known family at one unit id on a bus."""

    def __init__(
        self,
        name: str,
        regmap: RegisterMap,
        bus: ModbusBus,
        unit_id: int,
        *,
        clock: Clock,
        plausibility: Plausibility | None = None,
    ) -> None:
        missing = [q.value for q in _REQUIRED if regmap.row(q) is None]
        if missing:
            raise ValueError(f"map {regmap.family} lacks {', '.join(missing)}")
        if not 1 <= unit_id <= 247:
            raise ValueError(f"unit id {unit_id} out of range 1..247")
        self.name = name
        self.regmap = regmap
        self.bus = bus
        self.unit_id = unit_id
        self._clock = clock
        self._bounds = plausibility or Plausibility()
        self._blocks = plan_reads(regmap.rows, max_gap=regmap.max_gap)
        self._energy_wh: float | None = None
        self._lower_energy: list[float] = []
        self.counters: dict[str, int] = {"ok": 0, **dict.fromkeys(FAILURE_KINDS, 0)}
        self.last_good: MeterSample | None = None
        self.last_good_at: float | None = None
        self.last_error: str | None = None

    @property
    def request_count(self) -> int:
        """Read requests one sample takes."""
        return len(self._blocks)

    async def read(self) -> MeterSample:
        """Read and check one sample; raises MeterReadError on any failure."""
        try:
            parts = [
                decode_block(
                    block,
                    await self.bus.read(self.unit_id, block.function, block.address, block.count),
                    sentinels=self.regmap.sentinels,
                )
                for block in self._blocks
            ]
        except BusError as exc:
            raise self._fail(exc.kind, str(exc)) from exc
        values = values_by_quantity(parts)
        sample = self._check(values)
        self.counters["ok"] += 1
        self.last_good = sample
        self.last_good_at = self._clock.monotonic()
        self.last_error = None
        return sample

    def _fail(self, kind: str, detail: str) -> MeterReadError:
        self.counters[kind] = self.counters.get(kind, 0) + 1
        self.last_error = f"{kind}: {detail}"
        return MeterReadError(self.name, kind, detail)

    def _check(self, values: dict[Quantity, float]) -> MeterSample:
        bad = [q.value for q, v in values.items() if not math.isfinite(v)]
        if bad:
            raise self._fail("nan", f"not a finite number: {', '.join(sorted(bad))}")
        b = self._bounds
        currents = tuple(values[q] for q in _CURRENTS)
        voltages = tuple(values[q] for q in _VOLTAGES)
        for q in _VOLTAGES:
            if not 0.0 <= values[q] <= b.max_voltage_v:
                raise self._fail("implausible", f"{q.value} = {values[q]:.1f} V")
        for q in _CURRENTS:
            # Signed currents (export) are legitimate on some meters; only size matters.
            if abs(values[q]) > b.max_current_a:
                raise self._fail("implausible", f"{q.value} = {values[q]:.1f} A")
        for q in (*_POWERS, Quantity.POWER_TOTAL):
            if q in values and abs(values[q]) > b.max_power_w:
                raise self._fail("implausible", f"{q.value} = {values[q]:.0f} W")
        energy = values[Quantity.ENERGY_IMPORT]
        if energy < 0:
            raise self._fail("implausible", f"energy_import = {energy:.0f} Wh")
        self._check_energy(energy)
        phase_power = (
            (values[_POWERS[0]], values[_POWERS[1]], values[_POWERS[2]])
            if all(q in values for q in _POWERS)
            else None
        )
        return MeterSample(
            meter=self.name,
            currents_a=(currents[0], currents[1], currents[2]),
            voltages_v=(voltages[0], voltages[1], voltages[2]),
            power_w=values[Quantity.POWER_TOTAL],
            energy_import_wh=energy,
            timestamp=self._clock.now(),
            phase_power_w=phase_power,
        )

    def _check_energy(self, energy: float) -> None:
        known = self._energy_wh
        if known is None or energy >= known:
            self._energy_wh = energy
            self._lower_energy.clear()
            return
        # Going backwards is a fault, unless it keeps happening consistently
        # (meter swapped or reset): then the new counter becomes the baseline.
        lower = self._lower_energy
        if lower and energy < lower[-1]:
            lower.clear()
        lower.append(energy)
        if len(lower) >= self._bounds.energy_rebase_after:
            self._energy_wh = energy
            lower.clear()
            self.counters["energy_rebased"] = self.counters.get("energy_rebased", 0) + 1
            return
        raise self._fail("energy_backwards", f"{energy:.0f} Wh < {known:.0f} Wh")

    def age_s(self) -> float | None:
        """Seconds since the last good sample, or None if there never was one."""
        if self.last_good_at is None:
            return None
        return self._clock.monotonic() - self.last_good_at

    def is_stale(self, max_age_s: float) -> bool:
        """True when there is no good sample younger than max_age_s."""
        age = self.age_s()
        return age is None or age > max_age_s

    def status(self) -> dict[str, object]:
        """Counters, staleness and last error for the status page."""
        return {
            "name": self.name,
            "family": self.regmap.family,
            "bus": self.bus.name,
            "unit_id": self.unit_id,
            "age_s": self.age_s(),
            "last_error": self.last_error,
            "counters": dict(self.counters),
        }
