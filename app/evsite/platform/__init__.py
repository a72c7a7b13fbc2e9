"""The device: button, boot control, slots, ssh, reboot, wipe — real and simulated backends.

`Platform` is what the rest of the application may ask of the device itself.
Every backend is chosen explicitly by the `[platform] backend` setting, never
by falling back: "device" does each action through the privileged helpers and
reads the reset button (the image), "sim" records and audits each action without
doing it (the simulated site, tests), "none" refuses every action with a clear
reason (a controller run where no device backend is installed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from evsite.audit_sink import AuditSink
from evsite.clock import Clock
from evsite.config_errors import ConfigError
from evsite.privileged import DEFAULT_HELPER_DIR, LAUNCHERS, Launcher

BACKENDS = ("none", "sim", "device")
# The TCP services the firewall opens only while they are switched on.
SWITCHABLE_PORTS = (502, 8886)


class PlatformError(Exception):
    """The device refused or cannot do an action; the message says why."""


@dataclass(frozen=True)
class SshSwitch:
    """Whether SSH is on, and when it switches itself off again."""

    enabled: bool
    auto_off_at: datetime | None = None


class Platform(Protocol):
    """Privileged actions on the device and what it knows about itself."""

    def reboot(self) -> None:
        """Reboot soon (callers get their answer out first)."""
        ...

    def ssh(self) -> SshSwitch:
        """The SSH switch as it is now (switched off once its time is up)."""
        ...

    def set_ssh(self, enabled: bool, auto_off_minutes: int) -> SshSwitch:
        """Switch SSH on for a while, or off."""
        ...

    def factory_reset(self) -> None:
        """Wipe the data partition and reboot into the first-boot state."""
        ...

    def setup_window_open(self) -> bool:
        """True while a short press of the button keeps the setup window open."""
        ...

    def diagnostic_files(self) -> Mapping[str, bytes]:
        """Extra files for the support bundle (logs, device state); no secrets."""
        ...

    def open_port(self, port: int, sources: Sequence[str] = ()) -> None:
        """Let a switchable TCP service in through the firewall (from these sources only)."""
        ...

    def close_port(self, port: int) -> None:
        """Shut a switchable TCP service out again."""
        ...

    def close(self) -> None:
        """Stop watching the button and the timers (the process is ending)."""
        ...


@dataclass(frozen=True)
class PlatformSettings:
    """`[platform]`: which backend serves the device actions, and the device's button."""

    backend: str = "none"
    helper_dir: Path = DEFAULT_HELPER_DIR
    helper_launcher: Launcher = "privileged"
    # BCM number of the reset button's GPIO (to ground, internal pull-up); None: no button.
    button_pin: int | None = None
    button_chip: int = 0
    button_hold_s: float = 10.0
    setup_window_min: int = 15


_KEYS = {
    "backend",
    "helper_dir",
    "helper_launcher",
    "button_pin",
    "button_chip",
    "button_hold_s",
    "setup_window_min",
}


def _number(table: Mapping[str, Any], key: str, low: float, high: float) -> float:
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(f"platform.{key}", f"must be a number from {low:g} to {high:g}")
    return float(value)


def parse_platform_settings(raw: Mapping[str, Any]) -> PlatformSettings:
    """Validate the `[platform]` table; ConfigError names the bad key."""
    table = raw.get("platform", {})
    if not isinstance(table, Mapping):
        raise ConfigError("platform", "must be a table")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ConfigError(f"platform.{unknown[0]}", "unknown setting")
    backend = table.get("backend", "none")
    if backend not in BACKENDS:
        raise ConfigError("platform.backend", f"must be one of {', '.join(BACKENDS)}")
    values: dict[str, Any] = {"backend": backend}
    if "helper_dir" in table:
        helper_dir = table["helper_dir"]
        if not isinstance(helper_dir, str) or not helper_dir.startswith("/"):
            raise ConfigError("platform.helper_dir", "must be an absolute path")
        values["helper_dir"] = Path(helper_dir)
    if "helper_launcher" in table:
        if table["helper_launcher"] not in LAUNCHERS:
            raise ConfigError("platform.helper_launcher", f"must be one of {', '.join(LAUNCHERS)}")
        values["helper_launcher"] = table["helper_launcher"]
    for key, low, high in (("button_pin", 0, 53), ("button_chip", 0, 15)):
        if key in table:
            if not isinstance(table[key], int) or isinstance(table[key], bool):
                raise ConfigError(f"platform.{key}", "must be a whole number")
            values[key] = int(_number(table, key, low, high))
    if "button_hold_s" in table:
        values["button_hold_s"] = _number(table, "button_hold_s", 2, 60)
    if "setup_window_min" in table:
        if not isinstance(table["setup_window_min"], int):
            raise ConfigError("platform.setup_window_min", "must be a whole number of minutes")
        values["setup_window_min"] = int(_number(table, "setup_window_min", 1, 240))
    return PlatformSettings(**values)


class NoPlatform:
    """No device backend: every action is refused, nothing is pretended."""

    def __init__(self, why: str = "no device backend is configured ([platform] backend)") -> None:
        self._why = why

    def _refuse(self, action: str) -> PlatformError:
        return PlatformError(f"{action} is not available: {self._why}")

    def reboot(self) -> None:
        """Refuse."""
        raise self._refuse("reboot")

    def ssh(self) -> SshSwitch:
        """SSH is off: nothing here can switch it on."""
        return SshSwitch(False)

    def set_ssh(self, enabled: bool, auto_off_minutes: int) -> SshSwitch:
        """Refuse."""
        raise self._refuse("switching SSH")

    def factory_reset(self) -> None:
        """Refuse."""
        raise self._refuse("factory reset")

    def setup_window_open(self) -> bool:
        """No button, no window."""
        return False

    def diagnostic_files(self) -> Mapping[str, bytes]:
        """Nothing to add."""
        return {}

    def open_port(self, port: int, sources: Sequence[str] = ()) -> None:
        """No firewall is managed here: nothing to open."""

    def close_port(self, port: int) -> None:
        """No firewall is managed here: nothing to close."""

    def close(self) -> None:
        """Nothing runs."""


def build_platform(
    settings: PlatformSettings, clock: Clock, audit: AuditSink, data_dir: Path
) -> Platform:
    """The backend the settings name."""
    if settings.backend == "sim":
        from evsite.platform.sim import SimPlatform

        return SimPlatform(clock, audit, settings.setup_window_min * 60)
    if settings.backend == "device":
        from evsite.platform.device import DevicePlatform

        return DevicePlatform(settings, clock, audit, data_dir)
    return NoPlatform()
