"""The [uplink] table: mode, CSMS groups, strategies, TLS trust, timeouts, journaling.

Every invalid value raises ConfigError naming its dotted key. Proxy mode is a
single group called "default" that holds every station; groups mode names its
groups under [uplink.groups.NAME] and assigns stations to them.
"""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from evsite.config_errors import ConfigError

KEY = "uplink"
DEFAULT_GROUP = "default"


class Mode(StrEnum):
    """Where stations' messages go."""

    STANDALONE = "standalone"
    PROXY = "proxy"
    GROUPS = "groups"


class OnlineStrategy(StrEnum):
    """Who decides an idTag while the CSMS is reachable."""

    CSMS = "csms"
    LOCAL_FIRST = "local_first"
    LOCAL_ONLY = "local_only"


class OfflineStrategy(StrEnum):
    """How an idTag is decided while the CSMS is unreachable."""

    KNOWN = "known"
    ACCEPT_ALL = "accept_all"
    REJECT_ALL = "reject_all"


class ProfilePolicy(StrEnum):
    """What becomes of a CSMS SetChargingProfile."""

    # Recorded for the load manager, which sends the tighter of CSMS and site limits.
    COMBINE = "combine"
    # Relayed verbatim to the station, and recorded as well.
    FORWARD = "forward"


# Messages that may be journaled while the CSMS is unreachable. MeterValues only
# when they carry a transactionId (samples without a transaction are not kept).
JOURNALABLE = frozenset(
    {
        "BootNotification",
        "StartTransaction",
        "StopTransaction",
        "MeterValues",
        "SecurityEventNotification",
        "StatusNotification",
    }
)


@dataclass(frozen=True)
class GroupSettings:
    """One group of stations and the CSMS it talks to (url None: kept local)."""

    name: str
    url: str | None = None
    security_profile: int = 2
    online: OnlineStrategy = OnlineStrategy.CSMS
    offline: OfflineStrategy = OfflineStrategy.KNOWN

    def identity_url(self, identity: str) -> str:
        """The upstream URL of one identity: `<csms-url>/<identity>`."""
        assert self.url is not None
        return f"{self.url.rstrip('/')}/{urllib.parse.quote(identity, safe='')}"


@dataclass(frozen=True)
class UplinkSettings:
    """Everything the uplink needs; standalone by default."""

    mode: Mode = Mode.STANDALONE
    groups: Mapping[str, GroupSettings] = field(default_factory=dict)
    station_groups: Mapping[str, str] = field(default_factory=dict)
    default_group: str | None = None
    ca_bank: Path | None = None
    system_cas: bool = False
    upstream_timeout: float = 10.0
    replay_timeout: float = 30.0
    connect_timeout: float = 10.0
    backoff_initial: float = 1.0
    backoff_max: float = 300.0
    connect_rate: float = 20.0
    ping_interval: float = 30.0
    journal: frozenset[str] = JOURNALABLE
    csms_profiles: ProfilePolicy = ProfilePolicy.COMBINE
    auth_cache_ttl: float = 86_400.0
    controller_id: str = ""
    security_events_group: str | None = None
    security_events_exclude: tuple[str, ...] = ()

    def group_of(self, station_id: str) -> GroupSettings | None:
        """The group a station belongs to, or None when it stays local."""
        name = self.station_groups.get(station_id, self.default_group)
        return self.groups.get(name) if name else None

    def upstream_of(self, station_id: str) -> GroupSettings | None:
        """The group a station is relayed through, or None (standalone, local group)."""
        group = self.group_of(station_id)
        return group if group is not None and group.url is not None else None


_TOP_KEYS = {
    "mode",
    "csms",
    "groups",
    "default_group",
    "ca_bank",
    "system_cas",
    "upstream_timeout",
    "replay_timeout",
    "connect_timeout",
    "backoff_initial",
    "backoff_max",
    "connect_rate",
    "ping_interval",
    "journal",
    "csms_profiles",
    "auth_cache_ttl",
    "controller_id",
    "security_events_group",
    "security_events_exclude",
}
_GROUP_KEYS = {"url", "security_profile", "online", "offline", "stations"}
MAX_IDENTITY = 48


class _Reader:
    """Typed reads from one table with errors keyed by dotted name."""

    def __init__(self, value: Any, key: str, known: set[str]) -> None:
        if not isinstance(value, Mapping):
            raise ConfigError(key, "must be a table")
        unknown = sorted(set(value) - known)
        if unknown:
            raise ConfigError(f"{key}.{unknown[0]}", "unknown setting")
        self.values = value
        self.key = key

    def number(self, name: str, default: float, low: float, high: float) -> float:
        value = self.values.get(name, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or not low <= value <= high
        ):
            raise ConfigError(f"{self.key}.{name}", f"must be a number from {low:g} to {high:g}")
        return float(value)

    def string(self, name: str, default: str) -> str:
        value = self.values.get(name, default)
        if not isinstance(value, str):
            raise ConfigError(f"{self.key}.{name}", "must be a string")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.values.get(name, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.key}.{name}", "must be true or false")
        return value

    def strings(self, name: str) -> list[str] | None:
        value = self.values.get(name)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{self.key}.{name}", "must be a list of strings")
        return list(value)

    def choice(self, name: str, enum: type[StrEnum], default: StrEnum) -> Any:
        value = self.string(name, default.value)
        try:
            return enum(value)
        except ValueError:
            allowed = ", ".join(e.value for e in enum)
            raise ConfigError(f"{self.key}.{name}", f"{value!r} is not one of {allowed}") from None


def valid_csms_url(url: str, key: str) -> str:
    """A wss:// URL with a host; anything else (ws://, no host, query) is refused."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "wss":
        raise ConfigError(key, "must be a wss:// URL (TLS is required towards the CSMS)")
    if not parts.hostname:
        raise ConfigError(key, "has no host")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(key, "must not carry a query, fragment or credentials")
    try:
        _ = parts.port
    except ValueError:
        raise ConfigError(key, "has an invalid port") from None
    return url


def _group(name: str, value: Any, key: str) -> tuple[GroupSettings, list[str]]:
    r = _Reader(value, key, _GROUP_KEYS)
    url_text = r.string("url", "")
    url = valid_csms_url(url_text, f"{key}.url") if url_text else None
    profile = r.number("security_profile", 2, 2, 3)
    if profile != int(profile):
        raise ConfigError(f"{key}.security_profile", "must be 2 or 3")
    group = GroupSettings(
        name,
        url,
        int(profile),
        r.choice("online", OnlineStrategy, OnlineStrategy.CSMS),
        r.choice("offline", OfflineStrategy, OfflineStrategy.KNOWN),
    )
    return group, r.strings("stations") or []


def _check_identity(value: str, key: str) -> str:
    if not 1 <= len(value) <= MAX_IDENTITY or "/" in value or not value.isprintable():
        raise ConfigError(key, f"{value!r} is not a valid station identity")
    return value


def parse_uplink_settings(raw: Mapping[str, Any]) -> UplinkSettings:
    """Validate the [uplink] table of the configuration; raise ConfigError on the first bad key."""
    r = _Reader(raw.get(KEY, {}), KEY, _TOP_KEYS)
    mode: Mode = r.choice("mode", Mode, Mode.STANDALONE)
    groups: dict[str, GroupSettings] = {}
    station_groups: dict[str, str] = {}
    default_group: str | None = None
    if mode == Mode.PROXY:
        if "csms" not in r.values:
            raise ConfigError(f"{KEY}.csms", "proxy mode needs an [uplink.csms] table with a url")
        if "groups" in r.values:
            raise ConfigError(f"{KEY}.groups", "only used in groups mode")
        group, stations = _group(DEFAULT_GROUP, r.values["csms"], f"{KEY}.csms")
        if group.url is None:
            raise ConfigError(f"{KEY}.csms.url", "proxy mode needs the CSMS url")
        if stations:
            raise ConfigError(f"{KEY}.csms.stations", "proxy mode relays every station")
        groups[DEFAULT_GROUP] = group
        default_group = DEFAULT_GROUP
    elif mode == Mode.GROUPS:
        if "csms" in r.values:
            raise ConfigError(f"{KEY}.csms", "in groups mode each [uplink.groups.NAME] has a url")
        table = r.values.get("groups")
        if not isinstance(table, Mapping) or not table:
            raise ConfigError(f"{KEY}.groups", "groups mode needs at least one group")
        for name, value in table.items():
            key = f"{KEY}.groups.{name}"
            group, stations = _group(name, value, key)
            groups[name] = group
            for station in stations:
                _check_identity(station, f"{key}.stations")
                if station in station_groups:
                    raise ConfigError(
                        f"{key}.stations",
                        f"{station} is already in group {station_groups[station]}",
                    )
                station_groups[station] = name
        default_text = r.string("default_group", "")
        if default_text and default_text not in groups:
            raise ConfigError(f"{KEY}.default_group", f"no group named {default_text!r}")
        default_group = default_text or None
    ca_text = r.string("ca_bank", "")
    ca_bank = Path(ca_text) if ca_text else None
    if ca_bank is not None and not ca_bank.exists():
        raise ConfigError(f"{KEY}.ca_bank", f"{ca_bank} does not exist (a PEM file or directory)")
    system_cas = r.boolean("system_cas", False)
    if any(g.url for g in groups.values()) and ca_bank is None and not system_cas:
        raise ConfigError(
            f"{KEY}.ca_bank", "set a CA bank or system_cas = true: the CSMS must be validated"
        )
    # Stations commonly wait 30 s for an answer; ours must come before that, so the
    # upstream wait (plus a local answer) must end well within it.
    upstream_timeout = r.number("upstream_timeout", 10.0, 0.1, 25.0)
    journal_list = r.strings("journal")
    journal = JOURNALABLE if journal_list is None else frozenset(journal_list)
    unknown = sorted(journal - JOURNALABLE)
    if unknown:
        raise ConfigError(
            f"{KEY}.journal",
            f"{unknown[0]} cannot be journaled (allowed: {', '.join(sorted(JOURNALABLE))})",
        )
    for needed in ("StartTransaction", "StopTransaction"):
        if needed not in journal:
            raise ConfigError(f"{KEY}.journal", f"{needed} must be journaled")
    controller_id = r.string("controller_id", "")
    if controller_id:
        _check_identity(controller_id, f"{KEY}.controller_id")
    events_group = r.string("security_events_group", "") or None
    if controller_id:
        events_group = (
            events_group or default_group or next((g.name for g in groups.values() if g.url), None)
        )
        target = groups.get(events_group or "")
        if target is None or target.url is None:
            raise ConfigError(
                f"{KEY}.security_events_group", "must name a group that has a CSMS url"
            )
    backoff_initial = r.number("backoff_initial", 1.0, 0.01, 3600.0)
    backoff_max = r.number("backoff_max", 300.0, 0.01, 86_400.0)
    if backoff_max < backoff_initial:
        raise ConfigError(f"{KEY}.backoff_max", "must not be below backoff_initial")
    return UplinkSettings(
        mode=mode,
        groups=groups,
        station_groups=station_groups,
        default_group=default_group,
        ca_bank=ca_bank,
        system_cas=system_cas,
        upstream_timeout=upstream_timeout,
        replay_timeout=r.number("replay_timeout", 30.0, 0.1, 600.0),
        connect_timeout=r.number("connect_timeout", 10.0, 0.1, 120.0),
        backoff_initial=backoff_initial,
        backoff_max=backoff_max,
        connect_rate=r.number("connect_rate", 20.0, 0.1, 10_000.0),
        ping_interval=r.number("ping_interval", 30.0, 1.0, 3600.0),
        journal=journal,
        csms_profiles=r.choice("csms_profiles", ProfilePolicy, ProfilePolicy.COMBINE),
        auth_cache_ttl=r.number("auth_cache_ttl", 86_400.0, 0.0, 365 * 86_400.0),
        controller_id=controller_id,
        security_events_group=events_group if controller_id else None,
        security_events_exclude=tuple(r.strings("security_events_exclude") or ()),
    )
