"""Read the [energy] table of the configuration: settings and the circuit tree.

    [energy]
    mode = "dynamic"              # or "static"
    imbalance_limit_a = 20        # optional
    [energy.site]
    name = "site contract"
    limit_a = 40                  # one number, or [L1, L2, L3]
    metered = true
    fallback_a = 16
    [[energy.site.feeders]]
    id = "b"
    name = "feeder B"
    limit_a = 63
    [[energy.site.feeders.stations]]
    id = "CP01"
    phases = 1
    wiring = ["L2"]               # 3-phase: e.g. ["L2", "L3", "L1"]
    max_a = 32
    steps = [6, 8, 10, 13, 16]    # optional
    priority = 0

Feeders nest through their own `feeders` list. Every error is a ConfigError
whose key is the path to the bad value, e.g. energy.site.feeders[0].limit_a.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evsite.config_errors import ConfigError
from evsite.energy.model import CircuitTree, Node, Phase, PhaseAmps, StationSpec
from evsite.energy.settings import Settings

_SETTING_KEYS = {
    "mode",
    "imbalance_limit_a",
    "rotation_period_s",
    "giveback",
    "giveback_threshold_a",
    "giveback_delay_s",
    "giveback_margin_a",
    "giveback_recover_a",
    "raise_hold_s",
    "raise_step_a",
    "dead_band_a",
}
_NODE_KEYS = {"id", "name", "limit_a", "metered", "fallback_a", "feeders", "stations"}
_STATION_KEYS = {"id", "name", "phases", "wiring", "min_a", "max_a", "steps", "priority"}
_FILE_NAMES = {"limit": "limit_a", "fallback": "fallback_a"}


def parse_energy(raw: Mapping[str, Any]) -> tuple[CircuitTree | None, Settings]:
    """The circuit tree (None when no [energy.site] is configured) and the settings."""
    table = _table(raw.get("energy", {}), "energy")
    _known(table, "energy", _SETTING_KEYS | {"site"})
    values = {k: v for k, v in table.items() if k != "site"}
    if "giveback" in values:
        _flag(values["giveback"], "energy.giveback")
    settings = Settings(**values)
    site = table.get("site")
    if site is None:
        return None, settings
    root = _node(_table(site, "energy.site"), "energy.site", default_id="site")
    try:
        return CircuitTree(root), settings
    except ConfigError as exc:
        raise ConfigError("energy.site", exc.why) from None


def _node(table: Mapping[str, Any], key: str, default_id: str = "") -> Node:
    _known(table, key, _NODE_KEYS)
    if not default_id and not table.get("id"):
        raise ConfigError(f"{key}.id", "is required")
    node_id = _text(table.get("id", default_id), f"{key}.id")
    fallback = table.get("fallback_a")
    try:
        return Node(
            id=node_id,
            name=_text(table.get("name", node_id), f"{key}.name"),
            limit=_amps(table.get("limit_a"), f"{key}.limit_a"),
            metered=_flag(table.get("metered", False), f"{key}.metered"),
            fallback=None if fallback is None else _amps(fallback, f"{key}.fallback_a"),
            children=tuple(
                _node(_table(child, f"{key}.feeders[{k}]"), f"{key}.feeders[{k}]")
                for k, child in enumerate(_list(table.get("feeders", []), f"{key}.feeders"))
            ),
            stations=tuple(
                _station(_table(s, f"{key}.stations[{k}]"), f"{key}.stations[{k}]")
                for k, s in enumerate(_list(table.get("stations", []), f"{key}.stations"))
            ),
        )
    except ConfigError as exc:
        raise _located(exc, key) from None


def _station(table: Mapping[str, Any], key: str) -> StationSpec:
    _known(table, key, _STATION_KEYS)
    for required in ("id", "max_a"):
        if required not in table:
            raise ConfigError(f"{key}.{required}", "is required")
    wiring = tuple(
        Phase.parse(_text(p, f"{key}.wiring[{k}]"), f"{key}.wiring[{k}]")
        for k, p in enumerate(_list(table.get("wiring", []), f"{key}.wiring"))
    )
    phases = table.get("phases", len(wiring) or 3)
    try:
        return StationSpec(
            id=_text(table.get("id", ""), f"{key}.id"),
            name=_text(table.get("name", ""), f"{key}.name"),
            phases=_int(phases, f"{key}.phases"),
            wiring=wiring,
            min_a=_number(table.get("min_a", 6.0), f"{key}.min_a"),
            max_a=_number(table["max_a"], f"{key}.max_a"),
            steps=tuple(
                _number(s, f"{key}.steps[{k}]")
                for k, s in enumerate(_list(table.get("steps", []), f"{key}.steps"))
            ),
            priority=_int(table.get("priority", 0), f"{key}.priority"),
        )
    except ConfigError as exc:
        raise _located(exc, key) from None


def _located(exc: ConfigError, key: str) -> ConfigError:
    """Re-key a model error (stations.CP01.max_a) to where it is in the file."""
    if exc.key.startswith("energy."):
        return exc
    field = exc.key.rsplit(".", 1)[-1]
    return ConfigError(f"{key}.{_FILE_NAMES.get(field, field)}", exc.why)


def _known(table: Mapping[str, Any], key: str, known: set[str]) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{key}.{unknown[0]}", "unknown setting")


def _table(value: object, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(key, "must be a table")
    return value


def _list(value: object, key: str) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise ConfigError(key, "must be a list")
    return value


def _text(value: object, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(key, "must be a string")
    return value


def _flag(value: object, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(key, "must be true or false")
    return value


def _int(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(key, "must be an integer")
    return value


def _number(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(key, "must be a number")
    return float(value)


def _amps(value: object, key: str) -> PhaseAmps:
    """One number for all phases, or a list of three."""
    if value is None:
        raise ConfigError(key, "is required")
    if isinstance(value, list | tuple):
        if len(value) != 3:
            raise ConfigError(key, "needs one number or three (L1, L2, L3)")
        a, b, c = (_number(v, key) for v in value)
        return (a, b, c)
    amps = _number(value, key)
    return (amps, amps, amps)
