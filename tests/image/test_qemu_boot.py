"""Boot the qemu-arm64 image under QEMU (TCG, U-Boot as firmware) and reach the app.

One VM for the module: the tests poll its forwarded ports on 127.0.0.1 (the guest
network is restricted to those forwards), then stop it and read its disk.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.image.conftest import Image, read_table
from tests.image.qemu import (
    BOOT_DEADLINE_S,
    Vm,
    boot_env,
    copy_disk,
    live_env,
    need_qemu,
    power_on,
    ssh_banner,
    tls_handshake,
    wait_for,
    wait_healthy,
)

pytestmark = [pytest.mark.image, pytest.mark.slow]


@pytest.fixture(scope="module")
def vm(image: Image, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vm]:
    """The image booted in QEMU on a copy of its disk, 512 MiB larger (to watch it grow)."""
    if image.board != "qemu-arm64":
        pytest.skip("the QEMU boot test needs BOARD=qemu-arm64")
    need_qemu()
    tmp = tmp_path_factory.mktemp("qemu")
    disk = copy_disk(image.path, tmp / "disk.img", 512 * 1024 * 1024)
    machine = power_on(disk, tmp / "serial.log")
    yield machine
    machine.stop()


@pytest.mark.timeout(600)
def test_app_answers_on_ocpp_tls_port(vm: Vm) -> None:
    wait_for(vm, lambda: tls_handshake(vm.ocpp), "TLS on OCPP port 8887", BOOT_DEADLINE_S)
    print(f"boot to OCPP TLS: {time.monotonic() - vm.started:.0f} s")


@pytest.mark.timeout(600)
def test_health_endpoint_answers(vm: Vm) -> None:
    print(f"boot to health: {wait_healthy(vm):.0f} s")


@pytest.mark.timeout(120)
def test_ssh_port_is_closed(vm: Vm) -> None:
    assert not ssh_banner(vm.ssh).startswith(b"SSH-")


@pytest.mark.timeout(600)
def test_healthy_boot_marked_slot_a_good_saved_the_machine_id_and_grew_data(
    vm: Vm, tmp_path: Path
) -> None:
    wait_healthy(vm)
    # The app commits every healthy boot (mark-good): A back to 3 tries, B stays out.
    # The firmware partition is read from the running guest's disk until it says so.
    wait_for(vm, lambda: live_env(vm, tmp_path).get("BOOT_A_LEFT") == "3", "mark-good", 180)
    vm.stop()
    env = boot_env(vm.disk, tmp_path)
    assert env["BOOT_ORDER"] == "A"
    assert env["BOOT_A_LEFT"] == "3"
    assert env["BOOT_B_LEFT"] == "0"
    assert len(env.get("MACHINE_ID", "")) == 32
    parts, table = read_table(vm.disk)
    data = parts["data"]
    assert (data.start + data.size) // 512 >= int(str(table["lastlba"])) - 2048, "data did not grow"
