"""Health check and mark-good: commit, reject and reboot, rollback detection, power cuts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from evsite.clock import FakeClock
from evsite.update.mark import Outcome, is_mountpoint, port_listening, run_health_check
from evsite.update.signature import key_id
from tests.unit.update.support import Device, bundle_bytes, new_key, payloads, write_public
from tests.unit.update.test_update_install import Cutter, PowerCut, cutting_device


@pytest.fixture
def device(tmp_path: Path) -> Device:
    return Device(tmp_path, new_key())


def fake_sleep(clock: FakeClock):  # type: ignore[no-untyped-def]
    async def sleep(seconds: float) -> None:
        clock.advance(seconds)

    return sleep


async def test_health_check_waits_for_slow_probes_within_the_limit() -> None:
    clock = FakeClock()
    ready_at = clock.monotonic() + 5

    report = await run_health_check(
        {"app": lambda: True, "ocpp": lambda: clock.monotonic() >= ready_at},
        clock=clock,
        timeout_s=30,
        sleep=fake_sleep(clock),
    )
    assert report.ok and 5 <= report.elapsed_s < 30


async def test_health_check_names_probes_that_never_pass_or_raise() -> None:
    clock = FakeClock()

    def broken() -> bool:
        raise RuntimeError("boom")

    async def never() -> bool:
        return False

    report = await run_health_check(
        {"ok": lambda: True, "ui": never, "self_test": broken},
        clock=clock,
        timeout_s=10,
        sleep=fake_sleep(clock),
    )
    assert report.failed == ("self_test", "ui") and report.elapsed_s >= 10


async def test_port_and_mount_probes_check_the_real_thing(tmp_path: Path) -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    assert await port_listening("127.0.0.1", port)()  # type: ignore[misc]
    server.close()
    await server.wait_closed()
    assert not await port_listening("127.0.0.1", port)()  # type: ignore[misc]
    assert is_mountpoint(Path("/"))() and not is_mountpoint(tmp_path)()


async def test_healthy_trial_is_committed_and_raises_minimum_and_applies_revocations(
    device: Device,
) -> None:
    old = new_key()
    write_public(old, device.root / "keyring" / "old.pub")
    device.running_version = "1.0.5"
    bundle = bundle_bytes(
        device.key,
        payloads(),
        version="1.1.0",
        min_version="1.0.5",
        revoked_keys=[key_id(old.public_key())],
    )
    device.installer().install(device.write_bundle(bundle))
    assert device.boot().slot == "B"
    outcome = await device.confirmer().confirm({"app": lambda: True}, timeout_s=5)
    assert outcome is Outcome.COMMITTED
    state = device.state.load()
    assert (state.min_version, state.versions["B"], state.pending) == ("1.0.5", "1.1.0", None)
    assert state.revoked_keys == (key_id(old.public_key()),)
    assert device.bootchooser.state().left["B"] == 3
    assert ("update.committed", "ok") in [(e, o) for e, o, _ in device.audit_events()]
    for _ in range(3):
        assert device.boot().slot == "B"
        assert await device.confirmer().confirm({}, timeout_s=1) is Outcome.CONFIRMED


async def test_unhealthy_trial_is_marked_bad_recorded_and_rebooted_back(device: Device) -> None:
    device.installer().install(device.write_bundle(bundle_bytes(device.key, payloads())))
    assert device.boot().slot == "B"
    clock = device.clock
    outcome = await device.confirmer().confirm(
        {"ocpp_port": lambda: False}, timeout_s=20, sleep=fake_sleep(clock)
    )
    assert outcome is Outcome.REJECTED and device.reboots == 1
    rejected = device.state.load().last_rejected
    assert rejected is not None and rejected.slot == "B" and "ocpp_port" in rejected.reason
    assert device.boot().slot == "A"
    assert await device.confirmer().confirm({}, timeout_s=1) is Outcome.CONFIRMED
    assert device.state.load().min_version == "0"


async def test_crash_during_trial_rolls_back_by_itself_and_is_audited(device: Device) -> None:
    device.installer().install(device.write_bundle(bundle_bytes(device.key, payloads())))
    assert device.boot().slot == "B"
    # The trial hangs; the watchdog resets the board: no mark-good ran.
    assert device.boot().slot == "A"
    outcome = await device.confirmer().confirm({}, timeout_s=1)
    assert outcome is Outcome.CONFIRMED
    rejected = device.state.load().last_rejected
    assert rejected is not None and rejected.slot == "B" and "mark-good" in rejected.reason
    events = [(e, o) for e, o, _ in device.audit_events()]
    assert ("update.rolled_back", "failure") in events
    assert "B" not in device.bootchooser.state().order


async def test_app_restart_before_reboot_keeps_the_trial_armed(device: Device) -> None:
    device.installer().install(device.write_bundle(bundle_bytes(device.key, payloads())))
    assert await device.confirmer().confirm({}, timeout_s=1) is Outcome.AWAITING_REBOOT
    assert device.confirmer().mark_good() is Outcome.AWAITING_REBOOT
    assert device.boot().slot == "B"


async def test_unhealthy_committed_slot_is_audited_but_not_switched(device: Device) -> None:
    outcome = await device.confirmer().confirm(
        {"ui": lambda: False}, timeout_s=3, sleep=fake_sleep(device.clock)
    )
    assert outcome is Outcome.UNHEALTHY and device.reboots == 0
    assert ("update.health_failed", "failure") in [(e, o) for e, o, _ in device.audit_events()]


@pytest.mark.parametrize("at", range(3))
def test_power_cut_while_committing_never_raises_minimum_on_the_old_slot(
    device: Device, at: int
) -> None:
    device.running_version = "1.2.0"
    device.installer().install(
        device.write_bundle(
            bundle_bytes(device.key, payloads(), version="1.2.0", min_version="1.2.0")
        )
    )
    assert device.boot().slot == "B"
    undo = cutting_device(device, Cutter(at))
    try:
        device.confirmer().mark_good()
    except PowerCut:
        pass
    finally:
        undo()
    booted = device.boot().slot
    device.confirmer().mark_good()
    state = device.state.load()
    if booted == "A":
        assert state.min_version == "0"
    else:
        assert state.min_version == "1.2.0" and state.versions["B"] == "1.2.0"
