"""The device's own actions, the EMS site limit, settings and the diagnostics bundle."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from evsite.facade.core import FacadeCore
from evsite.facade.diagnostics import bundle
from evsite.platform import PlatformError
from evsite.web.facade import FacadeError, SiteLimit, SshState

AUDIT_IN_DIAGNOSTICS = 500


class PlatformPart(FacadeCore):
    """PlatformActions through the configured backend."""

    def reboot(self) -> None:
        """Reboot soon."""
        try:
            self._platform.reboot()
        except PlatformError as exc:
            raise FacadeError(str(exc)) from None

    def ssh_state(self) -> SshState:
        """The SSH switch."""
        state = self._platform.ssh()
        return SshState(state.enabled, state.auto_off_at)

    def set_ssh(self, enabled: bool, auto_off_minutes: int) -> SshState:
        """Switch SSH on for a while, or off."""
        try:
            state = self._platform.set_ssh(enabled, auto_off_minutes)
        except (PlatformError, ValueError) as exc:
            raise FacadeError(str(exc)) from None
        return SshState(state.enabled, state.auto_off_at)

    def factory_reset(self) -> None:
        """Wipe and reboot (the web layer checked the password)."""
        try:
            self._platform.factory_reset()
        except PlatformError as exc:
            raise FacadeError(str(exc)) from None

    def setup_window_open(self) -> bool:
        """True while the button's setup window is open."""
        return self._platform.setup_window_open()

    def diagnostics_bundle(self) -> bytes:
        """A tar.gz: configuration without secrets, status, recent audit records, device files."""
        status = self._bridge.run(self._status())
        records = list(self._read_audit.records(limit=AUDIT_IN_DIAGNOSTICS, newest_first=True))
        lines = [r.as_json() for r in reversed(records)]
        return bundle(
            self._clock.now(),
            self._config.raw(),
            status,
            lines,
            dict(self._platform.diagnostic_files()),
        )

    async def _status(self) -> dict[str, Any]:
        return self._controller.status()


class SettingsPart(FacadeCore):
    """SettingsStore through the configuration editor."""

    def settings(self) -> Mapping[str, Mapping[str, Any]]:
        """Section -> field -> value; no secrets."""
        return self._config.settings()

    def validate_settings(self, section: str, values: Mapping[str, str]) -> dict[str, str]:
        """Field -> error, checked by the controller's own parsers."""
        return self._config.validate(section, values)

    def apply_settings(self, section: str, values: Mapping[str, str]) -> None:
        """Write the values to the configuration file; they apply after a restart."""
        self._config.apply(section, values)


class EmsPart(FacadeCore):
    """EmsControl: an EMS site limit that falls back by itself when it expires."""

    _ems: tuple[float, datetime] | None
    _ems_timer: asyncio.TimerHandle | None

    def set_site_limit(self, amps: float, expiry_s: int) -> SiteLimit:
        """Limit the site per phase for expiry_s seconds."""
        if not math.isfinite(amps) or amps < 0:
            raise FacadeError("the site limit must be a number of amps >= 0")
        if expiry_s < 1:
            raise FacadeError("the expiry must be at least one second")
        limit = self._bridge.run(self._set_ems(float(amps), expiry_s))
        self._site_now.clear()  # the dashboard shows the new limit at once
        return limit

    def site_limit(self) -> SiteLimit:
        """The limit in force and where it comes from."""
        return self._bridge.run(self._limit())

    # --- on the loop

    async def _set_ems(self, amps: float, expiry_s: int) -> SiteLimit:
        control = self._controller.load.loop
        if control is None:
            raise FacadeError("load management has no circuit configured: no site limit to set")
        if self._ems_timer is not None:
            self._ems_timer.cancel()
        control.set_site_limit(amps, "ems")
        self._ems = (amps, self._clock.now() + timedelta(seconds=expiry_s))
        self._ems_timer = asyncio.get_running_loop().call_later(expiry_s, self._ems_expired)
        return self._limit_now()

    def _ems_expired(self) -> None:
        self._ems, self._ems_timer = None, None
        control = self._controller.load.loop
        if control is not None:
            control.set_site_limit(None, "ems:expired")

    def _cancel_ems(self) -> None:
        if self._ems_timer is not None:
            self._ems_timer.cancel()
        self._ems, self._ems_timer = None, None

    async def _limit(self) -> SiteLimit:
        return self._limit_now()

    def _limit_now(self) -> SiteLimit:
        control = self._controller.load.loop
        tree = self._controller.settings.load.tree
        if control is None or tree is None:
            return SiteLimit(0.0, "configured", None)
        configured = min(tree.root.limit)
        # The tightest of the EMS's and the BMS's limits binds (each falls back on its own).
        candidates: list[tuple[float, str, datetime | None]] = []
        if self._ems is not None:
            candidates.append((self._ems[0], "ems", self._ems[1]))
        bms = control.site_limits().get("bms")
        if bms is not None:
            candidates.append((bms, "bms", None))
        if candidates:
            tightest = min(candidates, key=lambda c: c[0])
            return SiteLimit(min(configured, tightest[0]), tightest[1], tightest[2])
        root = control.tree.root
        if root.id in control.snapshot.stale_nodes and root.fallback is not None:
            return SiteLimit(min(root.fallback), "fallback", None)
        return SiteLimit(configured, "configured", None)
