"""The device backend: each action through its helper, the SSH switch's own timer, the button.

The root helpers are played by a launcher script that logs each call and answers as
the real ones do; the button is a gpiozero MockFactory pin driven by the test.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from evsite.clock import FakeClock
from evsite.platform import PlatformError, PlatformSettings, SshSwitch
from evsite.platform.device import SSH_STATE_FILE, DevicePlatform
from evsite.store.audit import AuditLog
from evsite.store.db import Database, open_database

LAUNCHER = """#!/bin/sh
# Stands in for /usr/libexec/evsite/privileged: logs each call, answers like the helpers.
dir="$(dirname "$0")"
echo "$*" >> "$dir/calls.log"
if [ -e "$dir/fail" ]; then cat "$dir/fail" >&2; exit 1; fi
case "$1 ${2:-}" in
  "ssh-switch on") echo on > "$dir/sshd"; echo on ;;
  "ssh-switch off") echo off > "$dir/sshd"; echo off ;;
  "ssh-switch status") cat "$dir/sshd" 2>/dev/null || echo off ;;
esac
"""


class Helpers:
    """The fake helper directory: what was called, and a switch to make calls fail."""

    def __init__(self, path: Path) -> None:
        self.path = path
        launcher = path / "privileged"
        launcher.write_text(LAUNCHER)
        launcher.chmod(0o755)

    def calls(self) -> list[str]:
        """Each call as `NAME ARGS`."""
        log = self.path / "calls.log"
        return log.read_text().splitlines() if log.exists() else []

    def fail_with(self, message: str | None) -> None:
        """Make every helper fail with this message on stderr (None: work again)."""
        if message is None:
            (self.path / "fail").unlink(missing_ok=True)
        else:
            (self.path / "fail").write_text(message + "\n")

    def sshd_running(self, running: bool) -> None:
        """What `ssh-switch status` says, as after a reboot."""
        (self.path / "sshd").write_text("on\n" if running else "off\n")


@pytest.fixture
def helpers(tmp_path: Path) -> Helpers:
    path = tmp_path / "libexec"
    path.mkdir()
    return Helpers(path)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(tmp_path / "data")
    yield database
    database.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def audit(db: Database, clock: FakeClock) -> AuditLog:
    return AuditLog(db, clock)


@pytest.fixture
def settings(helpers: Helpers) -> PlatformSettings:
    return PlatformSettings(backend="device", helper_dir=helpers.path)


@pytest.fixture
def make(
    settings: PlatformSettings, clock: FakeClock, audit: AuditLog, tmp_path: Path
) -> Iterator[Callable[..., DevicePlatform]]:
    made: list[DevicePlatform] = []

    def build(**kw: object) -> DevicePlatform:
        platform = DevicePlatform(
            replace(settings, **kw),  # type: ignore[arg-type]
            clock,
            audit,
            tmp_path / "data",
            pin_factory=MockFactory(),
        )
        made.append(platform)
        return platform

    yield build
    for platform in made:
        platform.close()


def events(audit: AuditLog) -> list[tuple[str, str]]:
    return [(r.event, r.outcome) for r in audit.records(event_prefix="platform.")]


def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_reboot_and_factory_reset_call_their_helpers_and_are_audited(
    make: Callable[..., DevicePlatform], helpers: Helpers, audit: AuditLog
) -> None:
    device = make()
    device.reboot()
    device.factory_reset()
    assert helpers.calls() == ["reboot", "factory-wipe"]
    assert events(audit) == [("platform.reboot", "ok"), ("platform.factory_reset", "ok")]


def test_a_failing_helper_is_a_platform_error_that_names_it_and_why(
    make: Callable[..., DevicePlatform], helpers: Helpers
) -> None:
    device = make()
    helpers.fail_with("factory-wipe: /boot/firmware is not mounted")
    with pytest.raises(PlatformError, match=r"factory-wipe failed \(exit 1\): .*not mounted"):
        device.factory_reset()


def test_a_missing_launcher_is_a_clear_error(
    make: Callable[..., DevicePlatform], tmp_path: Path
) -> None:
    device = make(helper_dir=tmp_path / "nowhere")
    with pytest.raises(PlatformError, match="does not exist"):
        device.reboot()


def test_ssh_switches_on_for_a_while_and_off_by_itself_when_looked_at(
    make: Callable[..., DevicePlatform], helpers: Helpers, clock: FakeClock, audit: AuditLog
) -> None:
    device = make()
    state = device.set_ssh(True, 30)
    assert state == SshSwitch(True, clock.now() + timedelta(minutes=30))
    assert helpers.calls() == ["ssh-switch on"]
    clock.advance(29 * 60)
    assert device.ssh().enabled
    clock.advance(60)
    assert device.ssh() == SshSwitch(False)
    assert helpers.calls() == ["ssh-switch on", "ssh-switch off"]
    assert ("platform.ssh_auto_off", "ok") in events(audit)


def test_ssh_auto_off_timer_fires_without_anyone_looking(
    make: Callable[..., DevicePlatform], helpers: Helpers, tmp_path: Path
) -> None:
    device = make()
    device.set_ssh(True, 1)
    # The timer runs on real time: a saved switch whose time is already up is the
    # quick way to see it fire (as after a restart that came too late).
    saved = json.loads((tmp_path / "data" / SSH_STATE_FILE).read_text())
    assert saved["enabled"] is True
    device.close()
    (tmp_path / "data" / SSH_STATE_FILE).write_text(
        json.dumps({"enabled": True, "auto_off_at": "2000-01-01T00:00:00.000Z"})
    )
    make()
    assert wait_for(lambda: helpers.calls()[-1:] == ["ssh-switch off"])
    assert json.loads((tmp_path / "data" / SSH_STATE_FILE).read_text())["enabled"] is False


def test_a_restarted_app_keeps_the_switch_and_its_time(
    make: Callable[..., DevicePlatform], helpers: Helpers, clock: FakeClock
) -> None:
    first = make()
    on = first.set_ssh(True, 60)
    first.close()
    again = make()
    assert again.ssh() == on
    assert helpers.calls() == ["ssh-switch on", "ssh-switch status"]


def test_after_a_reboot_the_saved_switch_follows_the_stopped_sshd(
    make: Callable[..., DevicePlatform], helpers: Helpers
) -> None:
    make().set_ssh(True, 60)
    helpers.sshd_running(False)  # a reboot: the unit is never enabled
    assert make().ssh() == SshSwitch(False)


def test_ssh_switch_failure_changes_nothing_and_is_audited(
    make: Callable[..., DevicePlatform], helpers: Helpers, audit: AuditLog
) -> None:
    device = make()
    helpers.fail_with("ssh-keygen: no space left")
    with pytest.raises(PlatformError, match="no space left"):
        device.set_ssh(True, 30)
    assert device.ssh() == SshSwitch(False)
    assert ("platform.ssh", "failed") in events(audit)
    with pytest.raises(ValueError, match="auto_off_minutes"):
        device.set_ssh(True, 0)


def test_firewall_ports_only_the_switchable_ones(
    make: Callable[..., DevicePlatform], helpers: Helpers
) -> None:
    device = make()
    device.open_port(502, ["192.168.1.0/24"])
    device.close_port(8886)
    with pytest.raises(PlatformError, match="port 22 cannot be opened"):
        device.open_port(22)
    assert helpers.calls() == ["firewall-port open 502 192.168.1.0/24", "firewall-port close 8886"]


def test_short_press_opens_the_setup_window_for_its_minutes(
    make: Callable[..., DevicePlatform], helpers: Helpers, clock: FakeClock, audit: AuditLog
) -> None:
    device = make(button_pin=26, button_hold_s=0.5, setup_window_min=15)
    pin = device._button._button.pin  # type: ignore[union-attr]
    assert not device.setup_window_open()
    pin.drive_low()
    time.sleep(0.06)  # past the debounce
    pin.drive_high()
    assert wait_for(device.setup_window_open)
    assert ("platform.setup_window_opened", "ok") in events(audit)
    clock.advance(15 * 60)
    assert not device.setup_window_open()
    assert "factory-wipe" not in helpers.calls()


def test_holding_the_button_wipes_once_and_opens_no_window(
    make: Callable[..., DevicePlatform], helpers: Helpers, audit: AuditLog
) -> None:
    device = make(button_pin=26, button_hold_s=0.2)
    pin = device._button._button.pin  # type: ignore[union-attr]
    pin.drive_low()
    assert wait_for(lambda: "factory-wipe" in helpers.calls())
    time.sleep(0.5)  # held on well past the hold time: still one wipe
    pin.drive_high()
    time.sleep(0.1)
    assert helpers.calls().count("factory-wipe") == 1
    assert not device.setup_window_open()
    assert ("platform.button_held", "ok") in events(audit)


def test_a_button_that_cannot_be_opened_is_reported_and_the_rest_works(
    settings: PlatformSettings, clock: FakeClock, audit: AuditLog, tmp_path: Path, helpers: Helpers
) -> None:
    # GPIO 53 is not on this board's header: gpiozero refuses it, as it refuses a pin
    # that is missing or taken on the device.
    device = DevicePlatform(
        replace(settings, button_pin=53), clock, audit, tmp_path / "data", pin_factory=MockFactory()
    )
    try:
        assert ("platform.button", "failed") in events(audit)
        device.reboot()
        assert helpers.calls() == ["reboot"]
        info = json.loads(device.diagnostic_files()["device.json"])
        assert info["button_working"] is False and info["ssh"]["enabled"] is False
    finally:
        device.close()
