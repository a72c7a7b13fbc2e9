"""The device: button, boot control, slots, ssh, reboot, wipe — real and simulated backends.

`Platform` is what the rest of the application may ask of the device itself.
Every backend is chosen explicitly by the `[platform] backend` setting, never
by falling back: "sim" records and audits each action without doing it (the
simulated site, tests), "none" refuses every action with a clear reason (a
controller run where no device backend is installed). The real device backend
calls the privileged helpers and is added beside these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from evsite.audit_sink import AuditSink
from evsite.clock import Clock
from evsite.config_errors import ConfigError

BACKENDS = ("none", "sim")


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


@dataclass(frozen=True)
class PlatformSettings:
    """`[platform]`: which backend serves the device actions."""

    backend: str = "none"


def parse_platform_settings(raw: Mapping[str, Any]) -> PlatformSettings:
    """Validate the `[platform]` table; ConfigError names the bad key."""
    table = raw.get("platform", {})
    if not isinstance(table, Mapping):
        raise ConfigError("platform", "must be a table")
    unknown = sorted(set(table) - {"backend"})
    if unknown:
        raise ConfigError(f"platform.{unknown[0]}", "unknown setting")
    backend = table.get("backend", "none")
    if backend not in BACKENDS:
        raise ConfigError("platform.backend", f"must be one of {', '.join(BACKENDS)}")
    return PlatformSettings(backend)


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


def build_platform(settings: PlatformSettings, clock: Clock, audit: AuditSink) -> Platform:
    """The backend the settings name."""
    if settings.backend == "sim":
        from evsite.platform.sim import SimPlatform

        return SimPlatform(clock, audit)
    return NoPlatform()
