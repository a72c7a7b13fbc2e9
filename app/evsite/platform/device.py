"""The real device: privileged actions through the root helpers, the reset button on GPIO.

Each action asks one helper (rootfs-overlay/usr/libexec/evsite) through the
configured launcher; the app itself holds no privilege. The SSH switch is kept in
the data directory with the time it switches itself off, so a restarted app still
switches it off on time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from evsite.audit_sink import AuditSink
from evsite.clock import Clock, iso_utc
from evsite.platform import SWITCHABLE_PORTS, PlatformError, PlatformSettings, SshSwitch
from evsite.platform.window import SetupWindow
from evsite.privileged import HelperError, helper_command, run_helper

log = logging.getLogger("evsite.platform")

SSH_STATE_FILE = "ssh-switch.json"
MAX_SSH_MINUTES = 24 * 60
RESET_COUNTER = Path("/boot/firmware/factory-resets")

RunHelper = Callable[[Sequence[str], Sequence[str]], str]


def _run(command: Sequence[str], args: Sequence[str]) -> str:
    return run_helper(command, args)


class DevicePlatform:
    """Privileged actions done for real, through the helpers; the button read through gpiozero."""

    def __init__(
        self,
        settings: PlatformSettings,
        clock: Clock,
        audit: AuditSink,
        data_dir: Path,
        *,
        run: RunHelper = _run,
        pin_factory: Any = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._audit = audit
        self._run_helper = run
        self._ssh_path = data_dir / SSH_STATE_FILE
        self._window = SetupWindow(clock, settings.setup_window_min * 60)
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._ssh = self._restore_ssh()
        self._button = self._start_button(pin_factory)

    # --- helpers

    def _helper(self, name: str, *args: str) -> str:
        command = helper_command(self._settings.helper_dir, self._settings.helper_launcher, name)
        try:
            return self._run_helper(command, args)
        except HelperError as exc:
            raise PlatformError(str(exc)) from None

    # --- reboot and factory reset

    def reboot(self) -> None:
        """Reboot through the helper (it returns at once; the reboot follows)."""
        self._audit.record("platform.reboot")
        self._helper("reboot")

    def factory_reset(self) -> None:
        """Arm the wipe of the data partition and reboot; the wipe runs early next boot."""
        self._audit.record("platform.factory_reset")
        self._helper("factory-wipe")

    # --- SSH

    def ssh(self) -> SshSwitch:
        """The switch; past its time it is switched off here and now."""
        with self._lock:
            state = self._ssh
        if state.auto_off_at is not None and self._clock.now() >= state.auto_off_at:
            self._auto_off()
            with self._lock:
                state = self._ssh
        return state

    def set_ssh(self, enabled: bool, auto_off_minutes: int) -> SshSwitch:
        """Switch SSH on for the minutes given (host keys and port 22 by the helper), or off."""
        if enabled and not 1 <= auto_off_minutes <= MAX_SSH_MINUTES:
            raise ValueError(f"auto_off_minutes must be from 1 to {MAX_SSH_MINUTES}")
        with self._lock:
            try:
                self._helper("ssh-switch", "on" if enabled else "off")
            except PlatformError as exc:
                self._audit.record(
                    "platform.ssh", outcome="failed", detail={"enabled": enabled, "error": str(exc)}
                )
                raise
            off_at = self._clock.now() + timedelta(minutes=auto_off_minutes) if enabled else None
            self._set_ssh_locked(SshSwitch(enabled, off_at))
            state = self._ssh
        detail = {"enabled": enabled, "auto_off_minutes": auto_off_minutes if enabled else 0}
        self._audit.record("platform.ssh", detail=detail)
        return state

    def _auto_off(self) -> None:
        with self._lock:
            state = self._ssh
            if not state.enabled:
                return
            try:
                self._helper("ssh-switch", "off")
            except PlatformError as exc:
                # Keep the state on: the next look (or the timer) tries again.
                log.error("SSH could not be switched off on time: %s", exc)
                self._audit.record(
                    "platform.ssh_auto_off", outcome="failed", detail={"error": str(exc)}
                )
                self._arm_timer_locked(60.0)
                return
            self._set_ssh_locked(SshSwitch(False))
        self._audit.record("platform.ssh_auto_off")

    def _set_ssh_locked(self, state: SshSwitch) -> None:
        self._ssh = state
        self._save_ssh(state)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if state.auto_off_at is not None:
            self._arm_timer_locked((state.auto_off_at - self._clock.now()).total_seconds())

    def _arm_timer_locked(self, seconds: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = threading.Timer(max(0.0, seconds), self._auto_off)
        self._timer.daemon = True
        self._timer.start()

    def _save_ssh(self, state: SshSwitch) -> None:
        record = {
            "enabled": state.enabled,
            "auto_off_at": iso_utc(state.auto_off_at) if state.auto_off_at else None,
        }
        tmp = self._ssh_path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            json.dump(record, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._ssh_path)

    def _restore_ssh(self) -> SshSwitch:
        """The switch as saved; a switch that should be off by now is switched off."""
        try:
            record = json.loads(self._ssh_path.read_text())
            off_at = datetime.fromisoformat(record["auto_off_at"]) if record["enabled"] else None
        except FileNotFoundError:
            return SshSwitch(False)
        except (ValueError, KeyError, TypeError) as exc:
            log.error(
                "%s is unreadable (%s): SSH is treated as on and switched off", self._ssh_path, exc
            )
            off_at = self._clock.now()
        if off_at is None:
            return SshSwitch(False)
        with self._lock:
            # A reboot stops sshd (its unit is never enabled): ask before trusting the file.
            try:
                running = self._helper("ssh-switch", "status").strip() == "on"
            except PlatformError as exc:
                log.error("SSH state unknown: %s", exc)
                running = True
            self._ssh = SshSwitch(True, off_at)
            if not running:
                self._set_ssh_locked(SshSwitch(False))
            else:
                # Still on: switch off when its time comes (at once if it already has).
                self._arm_timer_locked((off_at - self._clock.now()).total_seconds())
            return self._ssh

    # --- firewall

    def open_port(self, port: int, sources: Sequence[str] = ()) -> None:
        """Open a switchable service port, from the given sources only when any are given."""
        self._check_port(port)
        self._helper("firewall-port", "open", str(port), *sources)
        self._audit.record(
            "platform.firewall", detail={"port": port, "open": True, "sources": list(sources)}
        )

    def close_port(self, port: int) -> None:
        """Close a switchable service port."""
        self._check_port(port)
        self._helper("firewall-port", "close", str(port))

    @staticmethod
    def _check_port(port: int) -> None:
        if port not in SWITCHABLE_PORTS:
            ports = " and ".join(str(p) for p in SWITCHABLE_PORTS)
            raise PlatformError(f"port {port} cannot be opened in the firewall: only {ports} can")

    # --- the button and the setup window

    def _start_button(self, pin_factory: Any) -> Any:
        pin = self._settings.button_pin
        if pin is None:
            return None
        from evsite.platform.button import ResetButton, device_pin_factory

        try:
            factory = pin_factory or device_pin_factory(self._settings.button_chip)
            return ResetButton(
                pin,
                self._settings.button_hold_s,
                on_short_press=self._short_press,
                on_hold=self._held,
                pin_factory=factory,
            )
        except Exception as exc:  # any GPIO failure: run on without the button
            log.error("the reset button on GPIO %d is not available: %s", pin, exc)
            self._audit.record(
                "platform.button", outcome="failed", detail={"pin": pin, "error": str(exc)}
            )
            return None

    def _short_press(self) -> None:
        until = self._window.open()
        log.warning("reset button pressed: the setup window is open until %s", iso_utc(until))
        self._audit.record(
            "platform.setup_window_opened",
            detail={"source": "button", "minutes": self._settings.setup_window_min},
        )

    def _held(self) -> None:
        log.warning("reset button held: factory reset")
        self._audit.record("platform.button_held", detail={"seconds": self._settings.button_hold_s})
        self.factory_reset()

    def setup_window_open(self) -> bool:
        """True while a short press of the button keeps the setup window open."""
        return self._window.is_open()

    def diagnostic_files(self) -> Mapping[str, bytes]:
        """The device's switches and its factory reset count; no secrets."""
        ssh = self.ssh()
        resets: str | None = None
        with contextlib.suppress(OSError):
            resets = RESET_COUNTER.read_text().strip()
        info = {
            "backend": "device",
            "ssh": {
                "enabled": ssh.enabled,
                "auto_off_at": iso_utc(ssh.auto_off_at) if ssh.auto_off_at else None,
            },
            "button_pin": self._settings.button_pin,
            "button_working": self._button is not None,
            "setup_window_open": self.setup_window_open(),
            "factory_resets": resets,
        }
        return {"device.json": json.dumps(info, indent=1).encode()}

    def close(self) -> None:
        """Release the button and stop the SSH timer (the switch's file keeps its time)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        if self._button is not None:
            self._button.close()
            self._button = None
