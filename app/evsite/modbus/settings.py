"""Meter and BMS settings from the config file: validated, and turned into buses and meters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from evsite.clock import Clock
from evsite.config_errors import ConfigError
from evsite.modbus.bms import BmsSettings
from evsite.modbus.bus import BusSettings, ModbusBus
from evsite.modbus.maps import FAMILIES
from evsite.modbus.meter import Meter, Plausibility


@dataclass(frozen=True)
class MeterConfig:
    """One `meters[i]` entry."""

    name: str
    family: str
    transport: Literal["rtu", "tcp"]
    unit_id: int
    role: str
    port: str = ""
    baud: int = 9600
    parity: str = "N"
    stopbits: int = 1
    host: str = ""
    tcp_port: int = 502
    timeout_s: float = 0.5
    retries: int = 1
    inter_frame_s: float | None = None
    max_current_a: float = 1000.0

    @property
    def bus_key(self) -> str:
        """Meters with the same key share one bus."""
        return f"rtu:{self.port}" if self.transport == "rtu" else f"tcp:{self.host}:{self.tcp_port}"


_KEYS = {
    "name", "family", "transport", "unit_id", "role", "port", "baud", "parity", "stopbits",
    "host", "timeout_s", "retries", "inter_frame_s", "max_current_a",
}  # fmt: skip


def _str(entry: Mapping[str, object], key: str, where: str, default: str) -> str:
    value = entry.get(key, default)
    if not isinstance(value, str):
        raise ConfigError(f"{where}.{key}", f"must be a string, not {value!r}")
    return value


def _int(entry: Mapping[str, object], key: str, where: str, default: int) -> int:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}.{key}", f"must be an integer, not {value!r}")
    return value


def _float(entry: Mapping[str, object], key: str, where: str, default: float) -> float:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}.{key}", f"must be a number, not {value!r}")
    return float(value)


def _opt_float(entry: Mapping[str, object], key: str, where: str) -> float | None:
    return None if entry.get(key) is None else _float(entry, key, where, 0.0)


def parse_meter(entry: object, where: str) -> MeterConfig:
    """Validate one meter entry; ConfigError names the key and why."""
    if not isinstance(entry, Mapping):
        raise ConfigError(where, "must be a table")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}", "unknown setting")
    name = _str(entry, "name", where, "")
    if not name:
        raise ConfigError(f"{where}.name", "is required")
    family = _str(entry, "family", where, "")
    if family not in FAMILIES:
        raise ConfigError(f"{where}.family", f"must be one of {', '.join(sorted(FAMILIES))}")
    transport = _str(entry, "transport", where, "")
    if transport not in ("rtu", "tcp"):
        raise ConfigError(f"{where}.transport", "must be rtu or tcp")
    unit_id = _int(entry, "unit_id", where, 1)
    if not 1 <= unit_id <= 247:
        raise ConfigError(f"{where}.unit_id", "must be 1..247")
    role = _str(entry, "role", where, "site")
    if role != "site" and not (role.startswith("feeder:") and len(role) > len("feeder:")):
        raise ConfigError(f"{where}.role", "must be site or feeder:<id>")
    timeout_s = _float(entry, "timeout_s", where, 0.5)
    retries = _int(entry, "retries", where, 1)
    inter_frame_s = _opt_float(entry, "inter_frame_s", where)
    max_current_a = _float(entry, "max_current_a", where, 1000.0)
    if not 0.05 <= timeout_s <= 10:
        raise ConfigError(f"{where}.timeout_s", "must be 0.05..10 s")
    if not 0 <= retries <= 5:
        raise ConfigError(f"{where}.retries", "must be 0..5")
    if inter_frame_s is not None and not 0 <= inter_frame_s <= 1:
        raise ConfigError(f"{where}.inter_frame_s", "must be 0..1 s")
    if not 0 < max_current_a <= 10000:
        raise ConfigError(f"{where}.max_current_a", "must be in (0, 10000] A")
    base = MeterConfig(
        name=name,
        family=family,
        transport="rtu" if transport == "rtu" else "tcp",
        unit_id=unit_id,
        role=role,
        timeout_s=timeout_s,
        retries=retries,
        inter_frame_s=inter_frame_s,
        max_current_a=max_current_a,
    )
    if transport == "rtu":
        port = _str(entry, "port", where, "")
        if not port:
            raise ConfigError(f"{where}.port", "serial device path is required for rtu")
        baud = _int(entry, "baud", where, 9600)
        parity = _str(entry, "parity", where, "N")
        stopbits = _int(entry, "stopbits", where, 1)
        if baud not in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200):
            raise ConfigError(f"{where}.baud", "must be a standard rate 1200..115200")
        if parity not in ("N", "E", "O"):
            raise ConfigError(f"{where}.parity", "must be N, E or O")
        if stopbits not in (1, 2):
            raise ConfigError(f"{where}.stopbits", "must be 1 or 2")
        return replace(base, port=port, baud=baud, parity=parity, stopbits=stopbits)
    host = _str(entry, "host", where, "")
    if not host:
        raise ConfigError(f"{where}.host", "is required for tcp")
    tcp_port = _int(entry, "port", where, 502)
    if not 1 <= tcp_port <= 65535:
        raise ConfigError(f"{where}.port", "must be a TCP port 1..65535")
    return replace(base, host=host, tcp_port=tcp_port)


def parse_meters(raw: object, key: str = "meters") -> list[MeterConfig]:
    """Validate the `meters` list: names unique, one site meter at most, buses consistent."""
    if raw is None:
        return []
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise ConfigError(key, "must be a list of meter tables")
    configs = [parse_meter(entry, f"{key}[{i}]") for i, entry in enumerate(raw)]
    names: set[str] = set()
    seen_units: dict[tuple[str, int], str] = {}
    bus_params: dict[str, tuple[int, str, int]] = {}
    for i, c in enumerate(configs):
        if c.name in names:
            raise ConfigError(f"{key}[{i}].name", f"{c.name!r} is used twice")
        names.add(c.name)
        other = seen_units.get((c.bus_key, c.unit_id))
        if other:
            raise ConfigError(
                f"{key}[{i}].unit_id", f"{c.unit_id} is already {other!r} on this bus"
            )
        seen_units[(c.bus_key, c.unit_id)] = c.name
        if c.transport == "rtu":
            params = (c.baud, c.parity, c.stopbits)
            if bus_params.setdefault(c.bus_key, params) != params:
                raise ConfigError(f"{key}[{i}].baud", f"differs from other meters on {c.port}")
    if sum(1 for c in configs if c.role == "site") > 1:
        raise ConfigError(key, "more than one meter has role site")
    return configs


def build_meters(
    configs: Sequence[MeterConfig], clock: Clock
) -> tuple[list[ModbusBus], list[Meter]]:
    """One bus per port/endpoint (its first meter sets the timing) and a Meter per entry.

    Call it inside the running event loop: pymodbus clients bind to the loop.
    """
    buses: dict[str, ModbusBus] = {}
    meters: list[Meter] = []
    for c in configs:
        bus = buses.get(c.bus_key)
        if bus is None:
            settings = BusSettings(
                timeout_s=c.timeout_s, retries=c.retries, inter_frame_s=c.inter_frame_s
            )
            if c.transport == "rtu":
                bus = ModbusBus.rtu(
                    c.port, clock=clock, baudrate=c.baud, parity=c.parity,
                    stopbits=c.stopbits, settings=settings,
                )  # fmt: skip
            else:
                bus = ModbusBus.tcp(c.host, c.tcp_port, clock=clock, settings=settings)
            buses[c.bus_key] = bus
        meters.append(
            Meter(
                c.name,
                FAMILIES[c.family],
                bus,
                c.unit_id,
                clock=clock,
                plausibility=Plausibility(max_current_a=c.max_current_a),
            )
        )
    return list(buses.values()), meters


def parse_bms(raw: object, key: str = "bms") -> BmsSettings | None:
    """Validate the `bms` table; None when the server is off (the default)."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ConfigError(key, "must be a table")
    known = {"enabled", "host", "port", "allowed", "max_stations", "watchdog_s", "fallback_a",
             "max_setpoint_a"}  # fmt: skip
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{key}.{unknown[0]}", "unknown setting")
    if raw.get("enabled", False) is not True:
        if not isinstance(raw.get("enabled", False), bool):
            raise ConfigError(f"{key}.enabled", "must be true or false")
        return None
    allowed = raw.get("allowed", [])
    if not isinstance(allowed, Sequence) or isinstance(allowed, str) or not allowed:
        raise ConfigError(f"{key}.allowed", "must be a non-empty list of IPs or CIDRs")
    if not all(isinstance(a, str) for a in allowed):
        raise ConfigError(f"{key}.allowed", "entries must be strings")
    try:
        return BmsSettings(
            host=_str(raw, "host", key, "0.0.0.0"),
            port=_int(raw, "port", key, 502),
            allowed=tuple(str(a) for a in allowed),
            max_stations=_int(raw, "max_stations", key, 32),
            watchdog_s=_float(raw, "watchdog_s", key, 60.0),
            fallback_a=_opt_float(raw, "fallback_a", key),
            max_setpoint_a=_float(raw, "max_setpoint_a", key, 1000.0),
        )
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        field, _, why = str(exc).partition(": ")
        raise ConfigError(f"{key}.{field}", why or str(exc)) from exc
