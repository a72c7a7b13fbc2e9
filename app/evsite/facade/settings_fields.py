"""The settings the UI edits, as data: section, field name, where it lives in the config file.

Each row names one value of the TOML configuration by its path and says how
the text typed into the form becomes a TOML value. The circuit tree's limits,
the meters and the CSMS groups are listed from the configuration itself, so
their rows are built per call. Nothing here is a secret: keys and passwords
live in the store, never in the configuration file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["int", "float", "opt_float", "bool", "str", "opt_str", "list", "amps", "opt_amps"]
ValuePath = tuple[str | int, ...]


@dataclass(frozen=True)
class Field:
    """One editable setting."""

    name: str  # the form's field name within its section
    path: ValuePath  # where it lives in the configuration
    kind: Kind
    default: Any  # what the parser assumes when the file does not set it

    @property
    def key(self) -> str:
        """The dotted name ConfigError uses for this value."""
        return dotted(self.path)


def dotted(path: ValuePath) -> str:
    """("energy", "site", "feeders", 0, "limit_a") -> "energy.site.feeders[0].limit_a"."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _rows(prefix: ValuePath, rows: Sequence[tuple[str, str, Kind, Any]]) -> list[Field]:
    return [Field(name, (*prefix, key), kind, default) for name, key, kind, default in rows]


def _static(raw: Mapping[str, Any]) -> dict[str, list[Field]]:
    return {
        "network": [
            Field("hostname", ("device", "hostname"), "str", "evsite"),
            *_rows(
                ("web",),
                [
                    ("ui_address", "host", "str", "0.0.0.0"),
                    ("ui_port", "port", "int", 443),
                    ("http_redirect_port", "redirect_port", "int", 80),
                    ("certificate_names", "cert_names", "list", []),
                    ("idle_timeout_s", "idle_timeout_s", "int", 1800),
                ],
            ),
        ],
        "ocpp": _rows(
            ("ocpp",),
            [
                ("bind", "bind", "str", "0.0.0.0"),
                ("port", "port", "int", 8887),
                ("plain_ws", "plain_ws", "bool", False),
                ("plain_port", "plain_port", "int", 8886),
                ("default_security_profile", "default_security_profile", "int", 2),
                ("heartbeat_interval", "heartbeat_interval", "int", 300),
                ("response_timeout", "response_timeout", "float", 30.0),
                ("ping_interval", "ping_interval", "float", 60.0),
            ],
        ),
        "load_management": [
            *_rows(
                ("energy",),
                [
                    ("mode", "mode", "str", "static"),
                    ("imbalance_limit_a", "imbalance_limit_a", "opt_float", None),
                    ("rotation_period_s", "rotation_period_s", "float", 900.0),
                    ("giveback", "giveback", "bool", True),
                ],
            ),
            *_rows(
                ("control",),
                [
                    ("safe_current_a", "safe_current_a", "float", 6.0),
                    ("stale_after_s", "stale_after_s", "float", 15.0),
                ],
            ),
            *_circuit(raw),
        ],
        "meters": [
            Field("poll_interval_s", ("control", "meter_interval_s"), "float", 1.0),
            *_meters(raw),
        ],
        "ems": _rows(
            ("bms",),
            [
                ("modbus_enabled", "enabled", "bool", False),
                ("modbus_address", "host", "str", "0.0.0.0"),
                ("modbus_port", "port", "int", 502),
                ("allowed_clients", "allowed", "list", []),
                ("watchdog_s", "watchdog_s", "float", 60.0),
                ("fallback_a", "fallback_a", "opt_float", None),
                ("max_setpoint_a", "max_setpoint_a", "float", 1000.0),
            ],
        ),
        "csms": [
            *_rows(
                ("uplink",),
                [
                    ("mode", "mode", "str", "standalone"),
                    ("system_cas", "system_cas", "bool", False),
                    ("ca_bank", "ca_bank", "opt_str", ""),
                    ("controller_id", "controller_id", "opt_str", ""),
                    ("upstream_timeout", "upstream_timeout", "float", 10.0),
                ],
            ),
            *_csms_groups(raw),
        ],
    }


def _circuit(raw: Mapping[str, Any]) -> list[Field]:
    site = _get(raw, ("energy", "site"))
    if not isinstance(site, Mapping):
        return []
    fields = [
        Field("site.limit_a", ("energy", "site", "limit_a"), "amps", None),
        Field("site.fallback_a", ("energy", "site", "fallback_a"), "opt_amps", None),
    ]

    def feeders(node: Mapping[str, Any], path: ValuePath) -> None:
        children = node.get("feeders", [])
        if not isinstance(children, list):
            return
        for i, child in enumerate(children):
            if isinstance(child, Mapping) and isinstance(child.get("id"), str):
                here = (*path, "feeders", i)
                name = f"feeder.{child['id']}"
                fields.append(Field(f"{name}.limit_a", (*here, "limit_a"), "amps", None))
                fields.append(Field(f"{name}.fallback_a", (*here, "fallback_a"), "opt_amps", None))
                feeders(child, here)

    feeders(site, ("energy", "site"))
    return fields


def _meters(raw: Mapping[str, Any]) -> list[Field]:
    meters = raw.get("meters")
    if not isinstance(meters, list):
        return []
    fields: list[Field] = []
    for i, meter in enumerate(meters):
        if not isinstance(meter, Mapping) or not isinstance(meter.get("name"), str):
            continue
        rtu = meter.get("transport") == "rtu"
        rows: list[tuple[str, str, Kind, Any]] = [
            ("family", "family", "str", ""),
            ("transport", "transport", "str", ""),
            ("role", "role", "str", "site"),
            ("unit_id", "unit_id", "int", 1),
        ]
        if rtu:
            rows += [("port", "port", "str", ""), ("baud", "baud", "int", 9600)]
            rows += [("parity", "parity", "str", "N")]
        else:
            rows += [("host", "host", "str", ""), ("port", "port", "int", 502)]
        rows.append(("timeout_s", "timeout_s", "float", 0.5))
        fields += _rows(("meters", i), [(f"meter.{meter['name']}.{n}", *r) for n, *r in rows])
    return fields


def _csms_groups(raw: Mapping[str, Any]) -> list[Field]:
    uplink = raw.get("uplink")
    mode = uplink.get("mode", "standalone") if isinstance(uplink, Mapping) else "standalone"
    if mode != "groups":
        return _rows(
            ("uplink", "csms"),
            [
                ("url", "url", "opt_str", ""),
                ("security_profile", "security_profile", "int", 2),
                ("online", "online", "str", "csms"),
                ("offline", "offline", "str", "known"),
            ],
        )
    groups = _get(raw, ("uplink", "groups"))
    fields: list[Field] = []
    for name in sorted(groups) if isinstance(groups, Mapping) else []:
        fields += _rows(
            ("uplink", "groups", name),
            [
                (f"group.{name}.url", "url", "opt_str", ""),
                (f"group.{name}.security_profile", "security_profile", "int", 2),
                (f"group.{name}.online", "online", "str", "csms"),
                (f"group.{name}.offline", "offline", "str", "known"),
            ],
        )
    return fields


def sections(raw: Mapping[str, Any]) -> dict[str, dict[str, Field]]:
    """Every section's fields, by name, for this configuration."""
    return {s: {f.name: f for f in fields} for s, fields in _static(raw).items()}


def _get(raw: Any, path: ValuePath) -> Any:
    node = raw
    for part in path:
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return None
            node = node[part]
        else:
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]
    return node


def shown(field: Field, raw: Mapping[str, Any]) -> Any:
    """The field's value as the form shows it: str, int, float or bool."""
    value = _get(raw, field.path)
    if value is None:
        value = field.default
    if field.kind in ("list",):
        return ", ".join(str(v) for v in value or [])
    if field.kind in ("amps", "opt_amps"):
        if isinstance(value, list):
            return ", ".join(_number_text(v) for v in value)
        return "" if value is None else _number_text(value)
    if field.kind in ("float", "opt_float") and isinstance(value, int | float):
        return float(value) if not isinstance(value, bool) else value
    if value is None:
        return ""
    return value


def _number_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_DELETE = object()


def parse(field: Field, text: str) -> Any:
    """The TOML value for typed text (DELETE to unset it); ValueError says what is wrong."""
    text = text.strip()
    kind = field.kind
    if kind.startswith("opt_") and text == "":
        return _DELETE
    if kind == "bool":
        if text not in ("true", "false"):
            raise ValueError("must be true or false")
        return text == "true"
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            raise ValueError("must be a whole number") from None
    if kind in ("float", "opt_float"):
        return _number(text)
    if kind in ("amps", "opt_amps"):
        parts = [p.strip() for p in text.split(",")]
        if len(parts) not in (1, 3):
            raise ValueError("needs one number, or three (L1, L2, L3) separated by commas")
        values = [_number(p) for p in parts]
        return values[0] if len(values) == 1 else values
    if kind == "list":
        return [p.strip() for p in text.split(",") if p.strip()]
    return text


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise ValueError("must be a number") from None
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def is_delete(value: object) -> bool:
    """True for parse()'s 'unset this value'."""
    return value is _DELETE
