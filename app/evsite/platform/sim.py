"""The simulated device: records and audits each privileged action instead of doing it.

Selected explicitly (`[platform] backend = "sim"`, and always under `evsite
sim`). The button is a method: `press_button()` opens the setup window as a
short press on the real device does.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from evsite.audit_sink import AuditSink
from evsite.clock import Clock, iso_utc
from evsite.platform import SshSwitch
from evsite.platform.window import SetupWindow

SETUP_WINDOW_S = 15 * 60


class SimPlatform:
    """A device twin: the same answers as the real one, with nothing really done."""

    def __init__(self, clock: Clock, audit: AuditSink, setup_window_s: float = SETUP_WINDOW_S):
        self._clock = clock
        self._audit = audit
        self._lock = threading.Lock()
        self._ssh = SshSwitch(False)
        self._window = SetupWindow(clock, setup_window_s)
        # (time, action, detail): what a real device would have done, for tests and support.
        self.actions: list[tuple[datetime, str, dict[str, Any]]] = []

    def _did(self, action: str, **detail: Any) -> None:
        with self._lock:
            self.actions.append((self._clock.now(), action, detail))
        self._audit.record(f"platform.{action}", outcome="simulated", detail=detail)

    def reboot(self) -> None:
        """Record a reboot."""
        self._did("reboot")

    def ssh(self) -> SshSwitch:
        """The switch; it turns itself off once its time is up, like the real one."""
        with self._lock:
            state = self._ssh
            expired = state.auto_off_at is not None and self._clock.now() >= state.auto_off_at
            if expired:
                self._ssh = SshSwitch(False)
        if expired:
            self._did("ssh_auto_off")
        return self._ssh

    def set_ssh(self, enabled: bool, auto_off_minutes: int) -> SshSwitch:
        """Switch SSH on for the minutes given, or off."""
        if enabled and auto_off_minutes <= 0:
            raise ValueError("auto_off_minutes must be positive")
        with self._lock:
            off_at = self._clock.now() + timedelta(minutes=auto_off_minutes) if enabled else None
            self._ssh = SshSwitch(enabled, off_at)
            state = self._ssh
        self._did("ssh", enabled=enabled, auto_off_minutes=auto_off_minutes if enabled else 0)
        return state

    def factory_reset(self) -> None:
        """Record a factory reset (the simulated site's data stays)."""
        self._did("factory_reset")

    def press_button(self) -> None:
        """A short press of the reset button: the setup window opens."""
        self._window.open()
        self._did("setup_window_opened", seconds=self._window.seconds)

    def setup_window_open(self) -> bool:
        """True until the window's time is up."""
        return self._window.is_open()

    def diagnostic_files(self) -> Mapping[str, bytes]:
        """The simulated actions so far, as JSON."""
        with self._lock:
            actions = [{"time": iso_utc(t), "action": a, "detail": d} for t, a, d in self.actions]
        return {"platform-actions.json": json.dumps(actions, indent=1).encode()}

    def open_port(self, port: int, sources: Sequence[str] = ()) -> None:
        """Record a firewall port opening."""
        self._did("open_port", port=port, sources=list(sources))

    def close_port(self, port: int) -> None:
        """Record a firewall port closing."""
        self._did("close_port", port=port)

    def close(self) -> None:
        """Nothing runs."""
