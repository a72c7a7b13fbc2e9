"""The `[web]` settings: where the UI listens and how long logins last."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from evsite.config_errors import ConfigError

_NAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9-]{1,63})*$"
)


@dataclass(frozen=True)
class WebSettings:
    """Validated web settings; every field has a safe default."""

    host: str = "0.0.0.0"  # bind address; "::" for IPv6 as well
    port: int = 443  # HTTPS; 8443 under `make run`
    redirect_port: int = 80  # plain HTTP that only redirects; 0 = off
    threads: int = 8
    idle_timeout_s: int = 30 * 60
    absolute_timeout_s: int = 12 * 3600
    max_body_bytes: int = 2 * 1024 * 1024
    cert_names: tuple[str, ...] = field(
        default_factory=tuple
    )  # extra names/addresses in the UI cert

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> WebSettings:
        """Build from the `[web]` table of the config file; ConfigError names a bad key."""
        known = set(cls.__dataclass_fields__)
        for key in raw:
            if key not in known:
                raise ConfigError(f"web.{key}", "unknown setting")
        values: dict[str, Any] = {}
        if "host" in raw:
            values["host"] = _address("web.host", raw["host"])
        for key, low, high in (
            ("port", 0, 65535),
            ("redirect_port", 0, 65535),
            ("threads", 2, 64),
            ("idle_timeout_s", 60, 24 * 3600),
            ("absolute_timeout_s", 300, 30 * 24 * 3600),
            ("max_body_bytes", 64 * 1024, 512 * 1024 * 1024),
        ):
            if key in raw:
                values[key] = _int(f"web.{key}", raw[key], low, high)
        if "cert_names" in raw:
            names = raw["cert_names"]
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ConfigError("web.cert_names", "must be a list of host names or addresses")
            for name in names:
                _name_or_address("web.cert_names", name)
            values["cert_names"] = tuple(names)
        settings = cls(**values)
        if settings.redirect_port and settings.redirect_port == settings.port:
            raise ConfigError("web.redirect_port", "must differ from web.port")
        if settings.idle_timeout_s > settings.absolute_timeout_s:
            raise ConfigError("web.idle_timeout_s", "must not exceed web.absolute_timeout_s")
        return settings


def _int(key: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(key, f"must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(key, f"must be between {low} and {high}, got {value}")
    return value


def _address(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(key, f"must be an IP address, got {value!r}")
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ConfigError(key, f"must be an IP address, got {value!r}") from None
    return value


def _name_or_address(key: str, value: str) -> None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if not _NAME.match(value):
            raise ConfigError(key, f"{value!r} is neither a host name nor an IP address") from None
