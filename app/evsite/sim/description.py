"""The simulated site as data: station behaviour and faults, read from a TOML file.

[stations]
meter_interval = 10      # seconds between MeterValues
arrival_mean = 60        # mean seconds between a car leaving and the next arriving
dwell_min = 120
dwell_max = 900

[[faults]]
station = "sim-002"      # which station
at = 30                  # seconds after start
fault = "disconnect"     # or "malformed_frame"
duration = 20            # seconds offline (disconnect only)

[meter]                  # the simulated meter's own table (load profile, faults)
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from evsite.config_errors import ConfigError
from evsite.sim.station import StationBehaviour

STATION_FAULTS = ("disconnect", "malformed_frame")
_BEHAVIOUR_KEYS = {"meter_interval", "arrival_mean", "dwell_min", "dwell_max", "hardware_max_a"}


@dataclass(frozen=True)
class SiteDescription:
    """How the simulated site behaves."""

    behaviour: StationBehaviour = field(default_factory=StationBehaviour)
    faults: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    meter: Mapping[str, Any] = field(default_factory=dict)

    def behaviour_for(self, station_id: str) -> StationBehaviour:
        """The behaviour of one station, with its own faults."""
        return replace(self.behaviour, faults=list(self.faults.get(station_id, [])))


def load_site(path: Path | None) -> SiteDescription:
    """Read and validate a site description; defaults without a file."""
    if path is None:
        return SiteDescription()
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError("site", f"cannot read {path}: {exc}") from None
    return parse_site(raw, str(path))


def parse_site(raw: Mapping[str, Any], source: str = "") -> SiteDescription:
    """Validate a site description mapping."""
    stations = raw.get("stations", {})
    unknown = set(stations) - _BEHAVIOUR_KEYS
    if unknown:
        raise ConfigError(f"stations.{sorted(unknown)[0]}", "unknown setting", source)
    values: dict[str, float] = {}
    for key in _BEHAVIOUR_KEYS & set(stations):
        value = stations[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"stations.{key}", "must be a positive number", source)
        values[key] = float(value)
    behaviour = StationBehaviour(**values)  # type: ignore[arg-type]
    if behaviour.dwell_min > behaviour.dwell_max:
        raise ConfigError("stations.dwell_min", "must not exceed dwell_max", source)
    faults: dict[str, list[dict[str, Any]]] = {}
    for n, fault in enumerate(raw.get("faults", [])):
        key = f"faults[{n}]"
        if fault.get("fault") not in STATION_FAULTS:
            raise ConfigError(f"{key}.fault", f"must be one of {', '.join(STATION_FAULTS)}", source)
        if not isinstance(fault.get("station"), str):
            raise ConfigError(f"{key}.station", "must name a station", source)
        for number in ("at", "duration"):
            value = fault.get(number, 0)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"{key}.{number}", "must be a number >= 0", source)
        faults.setdefault(fault["station"], []).append(dict(fault))
    meter = raw.get("meter", {})
    if not isinstance(meter, Mapping):
        raise ConfigError("meter", "must be a table", source)
    return SiteDescription(behaviour, faults, meter)
