"""The [discovery] table: announcement, mDNS browsing and SSDP search, validated by key."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from evsite.config_errors import ConfigError

# Instances of these types are stations by definition: every one becomes a candidate.
DEFAULT_MDNS_TYPES = ("_ocpp._tcp.local.", "_ocpp-cp._tcp.local.")
# Generic types that chargers share with printers, NAS boxes and lamps: only instances
# whose name, host or TXT entry matches a pattern below become candidates.
DEFAULT_MDNS_FILTERED_TYPES = ("_http._tcp.local.",)
# Kept to names that charger firmwares are known to announce; one vendor family a line.
DEFAULT_MDNS_PATTERNS = (
    "openevse*",  # OpenEVSE WiFi gateway
    "go-echarger*",  # go-e Charger
    "wattpilot*",  # Fronius Wattpilot
    "warp-*",  # Tinkerforge WARP Charger
    "warp2-*",
    "warp3-*",
    "pblr-*",  # Peblar
    "teslawallconnector*",  # Tesla Wall Connector
)
DEFAULT_SSDP_SERVER_PATTERNS = ("*evse*", "*wallbox*", "*charger*")
DEFAULT_SSDP_ST_PATTERNS = ("urn:schemas-*:device:*charg*",)
SSDP_MULTICAST = "239.255.255.250:1900"


@dataclass(frozen=True)
class AnnounceSettings:
    """[discovery.announce]: the device's own `_https._tcp` announcement."""

    enabled: bool = True


@dataclass(frozen=True)
class MdnsSettings:
    """[discovery.mdns]: stations found over mDNS/DNS-SD."""

    enabled: bool = True
    types: tuple[str, ...] = DEFAULT_MDNS_TYPES
    filtered_types: tuple[str, ...] = DEFAULT_MDNS_FILTERED_TYPES
    patterns: tuple[str, ...] = DEFAULT_MDNS_PATTERNS
    resolve_timeout_s: float = 3.0


@dataclass(frozen=True)
class SsdpSettings:
    """[discovery.ssdp]: stations found by an SSDP M-SEARCH."""

    enabled: bool = True
    search_target: str = "ssdp:all"
    mx: int = 2
    interval_s: float = 300.0
    target: tuple[str, int] = ("239.255.255.250", 1900)
    source_port: int = 1900
    server_patterns: tuple[str, ...] = DEFAULT_SSDP_SERVER_PATTERNS
    st_patterns: tuple[str, ...] = DEFAULT_SSDP_ST_PATTERNS
    max_response_bytes: int = 2048
    max_responses_per_s: float = 50.0


@dataclass(frozen=True)
class DiscoverySettings:
    """[discovery]: the whole service; `interfaces` empty means every IPv4 interface."""

    enabled: bool = True
    interfaces: tuple[str, ...] = ()
    address_refresh_s: float = 30.0
    max_candidates: int = 256
    announce: AnnounceSettings = field(default_factory=AnnounceSettings)
    mdns: MdnsSettings = field(default_factory=MdnsSettings)
    ssdp: SsdpSettings = field(default_factory=SsdpSettings)


class _Table:
    """One table of the [discovery] tree; unknown keys and bad values raise ConfigError."""

    def __init__(self, value: object, name: str, known: set[str]) -> None:
        if not isinstance(value, Mapping):
            raise ConfigError(name, "must be a table")
        unknown = sorted(set(value) - known)
        if unknown:
            raise ConfigError(f"{name}.{unknown[0]}", "unknown setting")
        self.values: Mapping[str, Any] = value
        self.name = name

    def key(self, key: str) -> str:
        return f"{self.name}.{key}"

    def boolean(self, key: str, default: bool) -> bool:
        value = self.values.get(key, default)
        if not isinstance(value, bool):
            raise ConfigError(self.key(key), "must be true or false")
        return value

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self.values.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(self.key(key), f"must be an integer from {low} to {high}")
        return value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        value = self.values.get(key, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            raise ConfigError(self.key(key), f"must be a number from {low:g} to {high:g}")
        return float(value)

    def text(self, key: str, default: str, max_len: int = 200) -> str:
        value = self.values.get(key, default)
        if not isinstance(value, str) or not value or len(value) > max_len:
            raise ConfigError(self.key(key), f"must be a non-empty string of at most {max_len}")
        if not value.isprintable():
            raise ConfigError(self.key(key), "must not contain control characters")
        return value

    def strings(
        self, key: str, default: Sequence[str], max_items: int = 64, max_len: int = 200
    ) -> tuple[str, ...]:
        value = self.values.get(key, list(default))
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise ConfigError(self.key(key), "must be a list of strings")
        if len(value) > max_items:
            raise ConfigError(self.key(key), f"must have at most {max_items} entries")
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item or len(item) > max_len:
                raise ConfigError(
                    f"{self.key(key)}[{i}]", f"must be a non-empty string of at most {max_len}"
                )
            if not item.isprintable():
                raise ConfigError(f"{self.key(key)}[{i}]", "must not contain control characters")
        return tuple(value)


def _service_types(table: _Table, key: str, default: Sequence[str]) -> tuple[str, ...]:
    types = table.strings(key, default)
    for i, service_type in enumerate(types):
        parts = service_type.split(".")
        # "_name._tcp.local." splits into ["_name", "_tcp", "local", ""]
        if (
            len(parts) != 4
            or not parts[0].startswith("_")
            or len(parts[0]) < 2
            or len(parts[0]) > 16
            or parts[1] not in ("_tcp", "_udp")
            or parts[2:] != ["local", ""]
        ):
            raise ConfigError(
                f"{table.key(key)}[{i}]", f"{service_type!r} is not like '_name._tcp.local.'"
            )
    return types


def _ipv4(table: _Table, key: str, value: str) -> str:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise ConfigError(table.key(key), f"{value!r} is not an IP address") from None
    if address.version != 4:
        raise ConfigError(table.key(key), f"{value!r}: only IPv4 addresses are supported")
    return value


def _target(table: _Table) -> tuple[str, int]:
    text = table.text("target", SSDP_MULTICAST, 64)
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ConfigError(table.key("target"), f"{text!r} is not ADDRESS:PORT")
    return _ipv4(table, "target", host), int(port_text)


def _parse_ssdp(value: object) -> SsdpSettings:
    t = _Table(
        value,
        "discovery.ssdp",
        {
            "enabled", "search_target", "mx", "interval_s", "target", "source_port",
            "server_patterns", "st_patterns", "max_response_bytes", "max_responses_per_s",
        },
    )  # fmt: skip
    return SsdpSettings(
        enabled=t.boolean("enabled", True),
        search_target=t.text("search_target", "ssdp:all"),
        mx=t.integer("mx", 2, 1, 5),
        interval_s=t.number("interval_s", 300.0, 60.0, 86_400.0),
        target=_target(t),
        source_port=t.integer("source_port", 1900, 0, 65535),
        server_patterns=t.strings("server_patterns", DEFAULT_SSDP_SERVER_PATTERNS),
        st_patterns=t.strings("st_patterns", DEFAULT_SSDP_ST_PATTERNS),
        max_response_bytes=t.integer("max_response_bytes", 2048, 512, 8192),
        max_responses_per_s=t.number("max_responses_per_s", 50.0, 1.0, 1000.0),
    )


def _parse_mdns(value: object) -> MdnsSettings:
    t = _Table(
        value,
        "discovery.mdns",
        {"enabled", "types", "filtered_types", "patterns", "resolve_timeout_s"},
    )
    types = _service_types(t, "types", DEFAULT_MDNS_TYPES)
    filtered = _service_types(t, "filtered_types", DEFAULT_MDNS_FILTERED_TYPES)
    both = sorted(set(types) & set(filtered))
    if both:
        raise ConfigError(t.key("filtered_types"), f"{both[0]} is also listed in types")
    return MdnsSettings(
        enabled=t.boolean("enabled", True),
        types=types,
        filtered_types=filtered,
        patterns=t.strings("patterns", DEFAULT_MDNS_PATTERNS),
        resolve_timeout_s=t.number("resolve_timeout_s", 3.0, 0.5, 30.0),
    )


def parse_discovery_settings(raw: object) -> DiscoverySettings:
    """Validate the [discovery] table (pass `raw_config.get("discovery", {})`)."""
    t = _Table(
        raw,
        "discovery",
        {
            "enabled", "interfaces", "address_refresh_s", "max_candidates",
            "announce", "mdns", "ssdp",
        },
    )  # fmt: skip
    interfaces = t.strings("interfaces", (), max_items=16, max_len=15)
    for address in interfaces:
        _ipv4(t, "interfaces", address)
    if len(set(interfaces)) != len(interfaces):
        raise ConfigError(t.key("interfaces"), "lists an address twice")
    announce = _Table(t.values.get("announce", {}), "discovery.announce", {"enabled"})
    return DiscoverySettings(
        enabled=t.boolean("enabled", True),
        interfaces=interfaces,
        address_refresh_s=t.number("address_refresh_s", 30.0, 5.0, 3600.0),
        max_candidates=t.integer("max_candidates", 256, 16, 10_000),
        announce=AnnounceSettings(enabled=announce.boolean("enabled", True)),
        mdns=_parse_mdns(t.values.get("mdns", {})),
        ssdp=_parse_ssdp(t.values.get("ssdp", {})),
    )
