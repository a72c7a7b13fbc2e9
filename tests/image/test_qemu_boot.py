"""Boot the qemu-arm64 image under QEMU (TCG, U-Boot as firmware) and reach the app.

One VM for the module: the tests poll its forwarded ports on 127.0.0.1 (the guest
network is restricted to those forwards), then stop it and read its disk.
"""

from __future__ import annotations

import http.client
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.image.conftest import REPO, Image, read_env, read_table

pytestmark = [pytest.mark.image, pytest.mark.slow]

BOOT_DEADLINE_S = 480.0  # TCG on a busy 2-core host; typical boots take one to two minutes
RUN = REPO / "image/qemu/run.sh"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Vm:
    """A running QEMU guest and its forwarded ports."""

    proc: subprocess.Popen[bytes]
    disk: Path
    serial: Path
    https: int
    ocpp: int
    ssh: int
    started: float

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _tls_handshake(port: int) -> bool:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            ctx.wrap_socket(raw) as tls,
        ):
            return tls.version() is not None
    except OSError:
        return False


def _healthz(port: int) -> int | None:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=ctx)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def _wait(vm: Vm, ready: object, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if not vm.alive():
            pytest.fail(f"QEMU exited with {vm.proc.returncode}; serial log: {vm.serial}")
        if ready():  # type: ignore[operator]
            return True
        time.sleep(2)
    return False


@pytest.fixture(scope="module")
def vm(image: Image, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vm]:
    """The image booted in QEMU on a copy of its disk, 512 MiB larger (to watch it grow)."""
    if image.board != "qemu-arm64":
        pytest.skip("the QEMU boot test needs BOARD=qemu-arm64")
    if (
        shutil.which("qemu-system-aarch64") is None
        or not Path("/usr/lib/u-boot/qemu_arm64/u-boot.bin").exists()
    ):
        pytest.skip(
            "needs qemu-system-arm and u-boot-qemu (apt-get install qemu-system-arm u-boot-qemu)"
        )
    tmp = tmp_path_factory.mktemp("qemu")
    disk = tmp / "disk.img"
    subprocess.run(["cp", "--sparse=always", str(image.path), str(disk)], check=True)
    with open(disk, "r+b") as f:
        f.truncate(image.path.stat().st_size + 512 * 1024 * 1024)
    serial = tmp / "serial.log"
    ports = {"HTTPS_PORT": _free_port(), "OCPP_PORT": _free_port(), "SSH_PORT": _free_port()}
    proc = subprocess.Popen(
        [str(RUN), str(disk), str(serial)],
        env={"PATH": "/usr/bin:/bin"} | {k: str(v) for k, v in ports.items()},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    machine = Vm(
        proc,
        disk,
        serial,
        ports["HTTPS_PORT"],
        ports["OCPP_PORT"],
        ports["SSH_PORT"],
        time.monotonic(),
    )
    yield machine
    machine.stop()


@pytest.mark.timeout(600)
def test_app_answers_on_ocpp_tls_port(vm: Vm) -> None:
    assert _wait(vm, lambda: _tls_handshake(vm.ocpp), vm.started + BOOT_DEADLINE_S), (
        f"no TLS on OCPP port 8887 after {BOOT_DEADLINE_S:.0f} s; serial log: {vm.serial}"
    )
    print(f"boot to OCPP TLS: {time.monotonic() - vm.started:.0f} s")


@pytest.mark.timeout(300)
def test_health_endpoint_answers(vm: Vm) -> None:
    if not _wait(vm, lambda: _tls_handshake(vm.ocpp), vm.started + BOOT_DEADLINE_S):
        pytest.fail("the app never came up")
    # The web UI starts with the app; give it a short grace period after OCPP is up.
    if not _wait(vm, lambda: _healthz(vm.https) is not None, time.monotonic() + 60):
        pytest.skip("nothing serves https://<device>:443/healthz in this build yet")
    assert _healthz(vm.https) == 200
    print(f"boot to health: {time.monotonic() - vm.started:.0f} s")


@pytest.mark.timeout(120)
def test_ssh_port_is_closed(vm: Vm) -> None:
    # QEMU accepts on the host side and hangs up when the guest refuses: no banner means closed.
    with socket.create_connection(("127.0.0.1", vm.ssh), timeout=10) as s:
        s.settimeout(5)
        try:
            banner = s.recv(64)
        except (TimeoutError, ConnectionResetError):
            banner = b""
    assert not banner.startswith(b"SSH-")


@pytest.mark.timeout(120)
def test_boot_consumed_one_try_saved_the_machine_id_and_grew_data(vm: Vm, tmp_path: Path) -> None:
    assert _wait(vm, lambda: _tls_handshake(vm.ocpp), vm.started + BOOT_DEADLINE_S)
    vm.stop()
    parts, table = read_table(vm.disk)
    env = read_env(f"{vm.disk}@@{parts['firmware'].start}", tmp_path)
    assert env["BOOT_ORDER"] == "A B"
    assert env["BOOT_A_LEFT"] == "2"  # nothing marked the slot good yet
    assert env["BOOT_B_LEFT"] == "3"
    assert len(env.get("MACHINE_ID", "")) == 32
    data = parts["data"]
    assert (data.start + data.size) // 512 >= int(table["lastlba"]) - 2048, "data did not grow"
