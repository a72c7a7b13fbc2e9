"""Typed settings: defaults, a TOML file over them, validation that names the key.

Each package reads its own table through its own parser; this module holds the
core's tables ([device], [ocpp], [sim]) and the loading of the file.
"""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evsite.config_errors import ConfigError
from evsite.discovery import DiscoverySettings, parse_discovery_settings
from evsite.load_management import LoadSettings, parse_load_settings
from evsite.ocpp.central import CentralSettings
from evsite.ocpp.server import ServerSettings
from evsite.platform import parse_platform_settings
from evsite.uplink.firmware import parse_firmware_settings
from evsite.uplink.settings import UplinkSettings, parse_uplink_settings
from evsite.web.settings import WebSettings

__all__ = ["ConfigError", "Settings", "load_raw", "parse_settings"]


@dataclass(frozen=True)
class OcppSettings:
    """[ocpp]: the station server."""

    server: ServerSettings = field(default_factory=ServerSettings)
    central: CentralSettings = field(default_factory=CentralSettings)
    client_ca: Path | None = None
    default_security_profile: int = 2


@dataclass(frozen=True)
class Settings:
    """Everything the core needs; other packages parse their own tables from `raw`."""

    ocpp: OcppSettings = field(default_factory=OcppSettings)
    hostname: str = "evsite"
    raw: Mapping[str, Any] = field(default_factory=dict)
    load: LoadSettings = field(default_factory=lambda: parse_load_settings({}))
    uplink: UplinkSettings = field(default_factory=lambda: parse_uplink_settings({}))
    web: WebSettings = field(default_factory=WebSettings)
    discovery: DiscoverySettings = field(
        default_factory=lambda: parse_discovery_settings({"enabled": False})
    )


def load_raw(path: Path | None) -> dict[str, Any]:
    """Parse a TOML config file ({} when no file is given)."""
    if path is None:
        return {}
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError("config", f"file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", f"{path} is not valid TOML: {exc}") from None


class _Table:
    """Typed access to one TOML table; every bad or unknown key raises ConfigError."""

    def __init__(self, raw: Mapping[str, Any], name: str, known: set[str]) -> None:
        value = raw.get(name, {})
        if not isinstance(value, Mapping):
            raise ConfigError(name, "must be a table")
        unknown = set(value) - known
        if unknown:
            raise ConfigError(f"{name}.{sorted(unknown)[0]}", "unknown setting")
        self._values = value
        self._name = name

    def get_int(self, key: str, default: int, low: int, high: int) -> int:
        value = self._values.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"{self._name}.{key}", f"must be an integer from {low} to {high}")
        return value

    def get_float(self, key: str, default: float, low: float, high: float) -> float:
        value = self._values.get(key, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            raise ConfigError(f"{self._name}.{key}", f"must be a number from {low} to {high}")
        return float(value)

    def get_bool(self, key: str, default: bool) -> bool:
        value = self._values.get(key, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self._name}.{key}", "must be true or false")
        return value

    def get_str(self, key: str, default: str) -> str:
        value = self._values.get(key, default)
        if not isinstance(value, str):
            raise ConfigError(f"{self._name}.{key}", "must be a string")
        return value

    def get_address(self, key: str, default: str) -> str:
        value = self.get_str(key, default)
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ConfigError(f"{self._name}.{key}", f"{value!r} is not an IP address") from None
        return value


_OCPP_KEYS = {
    "bind",
    "port",
    "plain_ws",
    "plain_port",
    "max_frame_bytes",
    "response_timeout",
    "heartbeat_interval",
    "flood_rate",
    "flood_burst",
    "client_ca",
    "default_security_profile",
    "ping_interval",
}


def parse_settings(raw: Mapping[str, Any]) -> Settings:
    """Validate the core's tables; raise ConfigError naming the first bad key."""
    t = _Table(raw, "ocpp", _OCPP_KEYS)
    server = ServerSettings(
        bind=t.get_address("bind", "0.0.0.0"),
        port=t.get_int("port", 8887, 0, 65535),
        plain_ws=t.get_bool("plain_ws", False),
        plain_port=t.get_int("plain_port", 8886, 0, 65535),
        max_frame_bytes=t.get_int("max_frame_bytes", 64 * 1024, 1024, 16 * 1024 * 1024),
        response_timeout=t.get_float("response_timeout", 30.0, 1.0, 600.0),
        flood_rate=t.get_float("flood_rate", 20.0, 1.0, 10_000.0),
        flood_burst=t.get_int("flood_burst", 100, 1, 100_000),
        ping_interval=t.get_float("ping_interval", 60.0, 5.0, 3600.0),
    )
    central = CentralSettings(heartbeat_interval=t.get_int("heartbeat_interval", 300, 10, 86_400))
    client_ca_text = t.get_str("client_ca", "")
    client_ca = Path(client_ca_text) if client_ca_text else None
    if client_ca is not None and not client_ca.is_file():
        raise ConfigError("ocpp.client_ca", f"{client_ca} is not a file")
    ocpp = OcppSettings(server, central, client_ca, t.get_int("default_security_profile", 2, 1, 3))
    device = _Table(raw, "device", {"hostname"})
    hostname = device.get_str("hostname", "evsite")
    if not hostname or len(hostname) > 63 or not hostname.replace("-", "").isalnum():
        raise ConfigError("device.hostname", "must be 1-63 letters, digits or '-'")
    web = raw.get("web", {})
    if not isinstance(web, Mapping):
        raise ConfigError("web", "must be a table")
    parse_platform_settings(raw)
    parse_firmware_settings(raw)
    return Settings(
        ocpp=ocpp,
        hostname=hostname,
        raw=raw,
        load=parse_load_settings(raw),
        uplink=parse_uplink_settings(raw),
        web=WebSettings.from_config(web),
        discovery=parse_discovery_settings(raw.get("discovery", {})),
    )
