"""Load-management settings: mode, imbalance, give-back, rotation and ramping."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from enum import StrEnum

from evsite.config_errors import ConfigError

KEY = "energy"
"""Dotted prefix of these settings in the configuration (ConfigError keys)."""


class Mode(StrEnum):
    """Static: configured limits only. Dynamic: limits minus the measured building load."""

    STATIC = "static"
    DYNAMIC = "dynamic"


@dataclass(frozen=True, kw_only=True, slots=True)
class Settings:
    """Every tunable of allocation and ramping, with installer-friendly defaults."""

    mode: Mode = Mode.STATIC
    # Most amps the single-phase stations may load one site phase more than another.
    imbalance_limit_a: float | None = None
    # A paused session waits this long before it may take a running one's turn,
    # and a session that got its turn keeps it at least this long.
    rotation_period_s: float = 900.0
    giveback: bool = True
    giveback_threshold_a: float = 2.0
    giveback_delay_s: float = 60.0
    giveback_margin_a: float = 2.0
    giveback_recover_a: float = 1.0
    raise_hold_s: float = 10.0
    raise_step_a: float | None = None
    dead_band_a: float = 0.5

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "mode", Mode(self.mode))
        except ValueError:
            raise ConfigError(f"{KEY}.mode", f"{self.mode!r} is not static or dynamic") from None
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("mode", "giveback") or value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{KEY}.{f.name}", f"must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"{KEY}.{f.name}", f"must be a finite number >= 0, got {value!r}")
        if self.imbalance_limit_a is not None and self.imbalance_limit_a < 6:
            raise ConfigError(
                f"{KEY}.imbalance_limit_a",
                "must be at least 6 A (one car's minimum) or unset, else a lone "
                "single-phase car could never charge",
            )
        if self.rotation_period_s < 1:
            raise ConfigError(f"{KEY}.rotation_period_s", "must be at least 1 s")
        if self.giveback_threshold_a <= 0:
            raise ConfigError(f"{KEY}.giveback_threshold_a", "must be > 0 A")
        if self.giveback_recover_a >= self.giveback_margin_a:
            raise ConfigError(
                f"{KEY}.giveback_recover_a",
                f"must be below giveback_margin_a ({self.giveback_margin_a:g} A), "
                "or a capped car would get its share back at once and be capped again",
            )
        if self.raise_step_a is not None and self.raise_step_a <= 0:
            raise ConfigError(f"{KEY}.raise_step_a", "must be > 0 A or unset")
