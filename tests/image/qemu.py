"""The qemu-arm64 image as a machine: boot it, poll its forwarded ports, cut its power,
and read its disk afterwards (GPT, boot environment, files on the data partition).

The guest network is restricted to the forwards on 127.0.0.1, so everything the tests
learn comes through the device's real interfaces or from its disk after power-off.
"""

from __future__ import annotations

import http.client
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

from tests.image.conftest import REPO, read_env, read_table

T = TypeVar("T")
RUN = REPO / "image/qemu/run.sh"
UBOOT = Path("/usr/lib/u-boot/qemu_arm64/u-boot.bin")
# TCG on a busy 2-core host; a boot to the app takes one to two minutes.
BOOT_DEADLINE_S = 480.0
POLL_S = 1.0


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def need_qemu() -> None:
    """Skip, saying what to install, when QEMU or its U-Boot is missing."""
    if shutil.which("qemu-system-aarch64") is None or not UBOOT.exists():
        pytest.skip(
            "needs qemu-system-arm and u-boot-qemu (apt-get install qemu-system-arm u-boot-qemu)"
        )


@dataclass
class Vm:
    """One power-on of a disk under QEMU and its forwarded ports."""

    proc: subprocess.Popen[bytes]
    disk: Path
    serial: Path
    https: int
    ocpp: int
    ssh: int
    qmp: Path
    started: float = field(default_factory=time.monotonic)

    def alive(self) -> bool:
        """True while QEMU runs (a guest reboot keeps the same process)."""
        return self.proc.poll() is None

    def serial_text(self) -> str:
        """What U-Boot (and a CONSOLE=1 kernel) printed so far."""
        try:
            return self.serial.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def cut_power(self) -> None:
        """Pull the plug: SIGKILL, no shutdown of any kind."""
        if self.alive():
            self.proc.kill()
        self.proc.wait()

    def power_button(self, seconds: float = 180) -> None:
        """Press the power button (QMP system_powerdown) and wait for the guest to shut
        down cleanly: systemd-logind powers off, QEMU exits."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(str(self.qmp))
            reader = s.makefile("rb")
            reader.readline()  # greeting
            for command in (b'{"execute":"qmp_capabilities"}', b'{"execute":"system_powerdown"}'):
                s.sendall(command + b"\n")
                while b'"return"' not in (reply := reader.readline()):
                    assert reply, "QMP closed the connection"
        try:
            self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the guest did not power off within {seconds:.0f} s; log {self.serial}")

    def stop(self) -> None:
        """Stop QEMU (SIGTERM, then SIGKILL); for the guest this is a power cut too."""
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def power_on(disk: Path, serial: Path) -> Vm:
    """Start QEMU on a disk image with free forwarded ports, a QMP socket beside the log."""
    ports = {"HTTPS_PORT": free_port(), "OCPP_PORT": free_port(), "SSH_PORT": free_port()}
    # A fresh log per power-on, so that boot messages are counted for this run only.
    serial.unlink(missing_ok=True)
    qmp = serial.with_name("qmp.sock")
    qmp.unlink(missing_ok=True)
    env = {"PATH": "/usr/bin:/bin", "QMP_SOCKET": str(qmp)}
    proc = subprocess.Popen(
        [str(RUN), str(disk), str(serial)],
        env=env | {k: str(v) for k, v in ports.items()},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return Vm(proc, disk, serial, ports["HTTPS_PORT"], ports["OCPP_PORT"], ports["SSH_PORT"], qmp)


def insecure_context() -> ssl.SSLContext:
    """TLS without verification: only to see whether something answers at all."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def tls_handshake(port: int) -> bool:
    """True when a TLS server answers on the forwarded port."""
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            insecure_context().wrap_socket(raw) as tls,
        ):
            return tls.version() is not None
    except OSError:
        return False


def healthz(port: int) -> int | None:
    """The status of GET /healthz, or None when nothing answers."""
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=insecure_context())
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def wait_for(vm: Vm, ready: Callable[[], T | None], what: str, seconds: float) -> T:
    """Poll `ready` (bounded by `seconds`) until it returns something truthy; fail on a
    QEMU exit or on time-out, naming what was awaited and where the serial log is."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not vm.alive():
            pytest.fail(f"QEMU exited with {vm.proc.returncode} awaiting {what}; log {vm.serial}")
        value = ready()
        if value:
            return value
        time.sleep(POLL_S)
    pytest.fail(f"no {what} within {seconds:.0f} s; serial log: {vm.serial}")


def wait_healthy(vm: Vm, seconds: float = BOOT_DEADLINE_S) -> float:
    """Wait for /healthz to answer 200; return the seconds since power-on."""
    wait_for(vm, lambda: healthz(vm.https) == 200, "200 from /healthz", seconds)
    return time.monotonic() - vm.started


def ssh_banner(port: int) -> bytes:
    """The first bytes on the SSH forward; empty when the guest refuses (QEMU accepts on the
    host side and hangs up)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.settimeout(5)
        try:
            return s.recv(64)
        except (TimeoutError, ConnectionResetError):
            return b""


def boot_env(disk: Path, tmp: Path) -> dict[str, str]:
    """The boot environment U-Boot will read next, from a powered-off disk."""
    parts, _ = read_table(disk)
    tmp.mkdir(parents=True, exist_ok=True)
    return read_env(f"{disk}@@{parts['firmware'].start}", tmp)


def live_env(vm: Vm, tmp: Path) -> dict[str, str]:
    """The boot environment as the running guest last wrote it ({} while a write is torn)."""
    try:
        return boot_env(vm.disk, tmp / "live-env")
    except (subprocess.CalledProcessError, ValueError):
        return {}


def read_data_files(disk: Path, paths: list[str], tmp: Path) -> dict[str, bytes]:
    """Files from the data partition of a powered-off disk (paths inside the filesystem).

    A copy of the partition gets its journal replayed (the power was cut, not shut
    down) and is read with debugfs: no loop mount, and the disk itself is untouched.
    """
    copy = tmp / "data.ext4"
    _extract_data(disk, tmp, copy)
    files: dict[str, bytes] = {}
    for path in paths:
        out = tmp / f"file-{len(files)}"
        subprocess.run(
            ["debugfs", "-R", f"dump -p {path} {out}", str(copy)],
            check=True,
            capture_output=True,
        )
        assert out.exists(), f"{path} is not on the data partition"
        files[path] = out.read_bytes()
    copy.unlink()
    return files


def _extract_data(disk: Path, tmp: Path, copy: Path) -> None:
    """A copy of the data partition with its journal replayed (e2fsck), for debugfs."""
    parts, _ = read_table(disk)
    data = parts["data"]
    tmp.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "dd",
            f"if={disk}",
            f"of={copy}",
            "bs=4M",
            "iflag=skip_bytes,count_bytes",
            f"skip={data.start}",
            f"count={data.size}",
            "conv=sparse",
            "status=none",
        ],
        check=True,
    )
    # 0: clean, 1: fixed (the journal replayed); anything else is a broken filesystem.
    fsck = subprocess.run(["e2fsck", "-fy", str(copy)], capture_output=True, text=True)
    assert fsck.returncode in (0, 1), f"data filesystem damaged:\n{fsck.stdout}{fsck.stderr}"


def save_journal(disk: Path, tmp: Path) -> Path:
    """The system journal from a powered-off disk's data partition, as text in a file."""
    copy = tmp / "data"
    _extract_data(disk, tmp, copy)
    journal = tmp / "journal"
    shutil.rmtree(journal, ignore_errors=True)
    journal.mkdir()
    subprocess.run(
        ["debugfs", "-R", f"rdump /var/log/journal {journal}", str(copy)],
        check=True,
        capture_output=True,
    )
    copy.unlink()
    text = tmp / "journal.txt"
    with open(text, "w") as out:
        for directory in sorted(journal.glob("journal/*")):
            subprocess.run(
                ["journalctl", "--no-pager", "-o", "short-precise", "-D", str(directory)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
    return text


def copy_disk(image: Path, dest: Path, extra_bytes: int) -> Path:
    """A sparse copy of a disk image, `extra_bytes` larger (the data partition grows)."""
    subprocess.run(["cp", "--sparse=always", str(image), str(dest)], check=True)
    with open(dest, "r+b") as f:
        f.truncate(image.stat().st_size + extra_bytes)
    return dest


def tools_missing() -> list[str]:
    """Host tools these helpers run that are not installed."""
    return [t for t in ("e2fsck", "debugfs", "dd", "cp") if shutil.which(t) is None]
