"""Whole update cycles on a simulated device: file slots, the boot script model, real
health probes on 127.0.0.1, the real audit log; and the same cycle through the U-Boot
backend with libubootenv and the privileged helpers (run without sudo)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from evsite.update.bootchooser import UBootBootchooser, run_command
from evsite.update.bootscript import run_boot_script
from evsite.update.errors import BundleRejected, Reason
from evsite.update.mark import BootConfirmer, Outcome, Probe, is_mountpoint, port_listening
from tests.unit.update.support import (
    Device,
    bundle_bytes,
    helper_command,
    new_key,
    payloads,
    slot_holds,
)


class Services:
    """The app's listening ports, which a test can take down."""

    def __init__(self) -> None:
        self.servers: dict[str, asyncio.Server] = {}
        self.ports: dict[str, int] = {}

    async def start(self, name: str) -> None:
        server = await asyncio.start_server(
            lambda r, w: w.close(), "127.0.0.1", self.ports.get(name, 0)
        )
        self.servers[name] = server
        self.ports[name] = server.sockets[0].getsockname()[1]

    async def stop(self, name: str) -> None:
        self.servers[name].close()
        await self.servers[name].wait_closed()

    def probes(self) -> dict[str, Probe]:
        probes: dict[str, Probe] = {
            name: port_listening("127.0.0.1", port) for name, port in self.ports.items()
        }
        probes.update(app=lambda: True, self_test=lambda: True, data=is_mountpoint(Path("/")))
        return probes


@pytest.fixture
async def services() -> AsyncIterator[Services]:
    s = Services()
    await s.start("ocpp")
    await s.start("ui")
    yield s
    for server in s.servers.values():
        server.close()


async def test_lifecycle_commit_then_failed_and_crashed_updates_roll_back(
    tmp_path: Path, services: Services
) -> None:
    device = Device(tmp_path, new_key())
    first, second = payloads(seed=11), payloads(seed=12)

    async def sleep(seconds: float) -> None:
        device.clock.advance(seconds)  # time moves only as the health check waits
        await asyncio.sleep(0)

    async def confirm() -> Outcome:
        return await device.confirmer().confirm(services.probes(), timeout_s=2, sleep=sleep)

    assert device.booted() == "A" and await confirm() is Outcome.CONFIRMED

    # 1.1.0 into B, trial boot, healthy: committed; it stays.
    device.installer().install(
        device.write_bundle(bundle_bytes(device.key, first, version="1.1.0", min_version="1.0.0"))
    )
    assert device.boot().slot == "B"
    assert await confirm() is Outcome.COMMITTED
    device.running_version = "1.1.0"
    for _ in range(3):
        assert device.boot().slot == "B" and await confirm() is Outcome.CONFIRMED
    assert slot_holds(device, "B", first)

    # 1.2.0 into A, trial boot, the UI port never comes up: rejected, reboot, back on B.
    device.installer().install(
        device.write_bundle(bundle_bytes(device.key, second, version="1.2.0", min_version="1.1.0"))
    )
    assert device.boot().slot == "A"
    await services.stop("ui")
    outcome = await device.confirmer().confirm(services.probes(), timeout_s=5, sleep=sleep)
    assert outcome is Outcome.REJECTED and device.reboots == 1
    await services.start("ui")
    assert device.boot().slot == "B" and await confirm() is Outcome.CONFIRMED
    rejected = device.state.load().last_rejected
    assert rejected is not None and (rejected.slot, rejected.version) == ("A", "1.2.0")

    # Again, and this time the trial hangs: the watchdog resets without a mark-good.
    device.installer().install(
        device.write_bundle(bundle_bytes(device.key, second, version="1.2.0", min_version="1.1.0"))
    )
    assert device.boot().slot == "A"
    assert device.boot().slot == "B"
    assert await confirm() is Outcome.CONFIRMED
    assert device.state.load().min_version == "1.0.0"  # only the committed bundle raised it

    # Anti-rollback: below the committed minimum is refused.
    with pytest.raises(BundleRejected) as err:
        device.installer().install(
            device.write_bundle(
                bundle_bytes(device.key, first, version="0.9.0", min_version="0.9.0")
            )
        )
    assert err.value.reason is Reason.DOWNGRADE

    events = [e for e, _, _ in device.audit_events()]
    assert events.count("update.committed") == 1
    assert "update.rejected" in events and "update.rolled_back" in events
    assert device.audit.verify() == []


@pytest.mark.skipif(
    shutil.which("fw_setenv") is None or shutil.which("mkenvimage") is None,
    reason="needs libubootenv-tool and u-boot-tools",
)
async def test_trial_and_commit_through_u_boot_environment(tmp_path: Path) -> None:
    defaults = tmp_path / "defaults.txt"
    defaults.write_text("BOOT_ORDER=A\nBOOT_A_LEFT=3\nBOOT_B_LEFT=0\n")
    for name in ("env1", "env2"):
        subprocess.run(
            ["mkenvimage", "-s", "0x4000", "-r", "-o", str(tmp_path / name), str(defaults)],
            check=True,
        )
    config = tmp_path / "fw_env.config"
    config.write_text(f"{tmp_path / 'env1'} 0x0 0x4000\n{tmp_path / 'env2'} 0x0 0x4000\n")
    chooser = UBootBootchooser(
        run_command,
        helper_command("update-get-boot", fw_config=config),
        helper_command("update-set-boot", fw_config=config),
    )
    device = Device(tmp_path / "device", new_key())

    def reboot() -> str:
        decision = run_boot_script(chooser.read_env())
        chooser.write_env(decision.env)  # what the script's saveenv does
        device.cmdline.write_text(decision.cmdline)
        return decision.slot

    assert reboot() == "A"
    device.installer(bootchooser=chooser).install(
        device.write_bundle(bundle_bytes(device.key, payloads()))
    )
    assert reboot() == "B"
    confirmer = BootConfirmer(
        bootchooser=chooser,
        state=device.state,
        audit=device.audit,
        clock=device.clock,
        booted_slot=device.booted,
        reboot=lambda: None,
    )
    assert await confirmer.confirm({"app": lambda: True}, timeout_s=1) is Outcome.COMMITTED
    out = subprocess.run(
        ["fw_printenv", "-c", str(config)], capture_output=True, text=True, check=True
    ).stdout
    assert "BOOT_ORDER=B A" in out and "BOOT_B_LEFT=3" in out
    assert reboot() == "B"
