"""The real update cycle on the qemu-arm64 image, through the device's own interfaces.

One device (a copy of the built disk) for the whole module; the tests run in order and
each leaves the device in the state the next one starts from:

1. first boot: /healthz over HTTPS, SSH closed;
2. the one-time setup secret and the device certificates read from the powered-off
   data partition (debugfs on a copy, no loop mount), the first admin created and
   logged in with a real HTTPS client (cookie, CSRF token, Origin);
3. a station enrolled in the UI connects over WSS (the `ocpp` library);
4. a signed bundle (`make bundle` from the image's payloads) uploaded on the maintenance
   page, "reboot into the new version", trial boot of B, health check, commit;
5. tampered bundles refused with their reasons;
6. a version whose app never starts (image/scripts/variant.sh VARIANT=app-fails): trial
   boot, crash loop, reboot, back to the committed slot by itself, rollback recorded;
6b. a version whose app says it is ready and then hangs (VARIANT=app-hangs): the unit's
   watchdog kills it until the start limit reboots, and the device rolls back the same way;
7. power cut while the inactive slot is written: the running slot boots, the half
   written one is out of the boot order;
8. power cut at the moment the trial boot passes its health check: a good slot boots;
9. a torn boot environment write (the newer copy corrupt): U-Boot takes the older copy;
10. SSH switched on from the maintenance page answers on port 22, and off again does not;
11. factory reset from the maintenance page: the device reboots into first-boot state
    (setup page, new secret, reset counted on the firmware partition), the slot it ran
    stays, and nothing of the old data is left on the partition.

Every step polls the device (health endpoint, update status, boot messages on the
serial port, the boot environment on the disk); each wait has a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import re
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import ChargePoint, call
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from evsite.web.sessions import COOKIE_NAME
from tests.image.conftest import BOARD, OUT, REPO, Image, read_table
from tests.image.qemu import (
    BOOT_DEADLINE_S,
    Vm,
    boot_env,
    copy_disk,
    live_env,
    need_qemu,
    power_on,
    read_data_files,
    save_journal,
    ssh_banner,
    tools_missing,
    wait_for,
    wait_healthy,
)
from tests.integration.web.conftest import HttpsClient
from tests.unit.web.support import Reply

pytestmark = [pytest.mark.image, pytest.mark.slow]

ADMIN = "installer"
PASSWORD = "Copper-Meadow-Signal-42"
STATION = "CP-QEMU-1"
RUNNING = "0.1.0"  # the app version inside the image's payloads
GOOD = "0.2.0"
FAILING = "0.3.0"
HANGING = "0.3.1"
LATER = "0.4.0"
INSTALL_DEADLINE_S = 900.0  # upload, verify and write ~150 MiB under TCG
UPLOAD_WRITE_TIMEOUT_S = 120.0
GUEST_ANSWER_S = 60.0  # one HTTPS request to the emulated guest
SECRET_PATH = "/evsite/setup-secret"
WEB_CERT_PATH = "/evsite/web-tls/cert.pem"
OCPP_CERT_PATH = "/evsite/tls/ocpp.crt"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_NEW_KEY = re.compile(r'id="new-key">([^<]+)<')
_BOOTED = re.compile(r"evsite: booting slot ([AB])")


@dataclass
class Device:
    """The device under test: its disk, the machine running it, what was learnt about it."""

    disk: Path
    tmp: Path
    vm: Vm | None = None
    cafile: Path | None = None
    ocpp_ca: Path | None = None
    csrf: str = ""
    client: HttpsClient | None = None
    earlier_boots: list[str] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    numbers: dict[str, float] = field(default_factory=dict)

    @property
    def machine(self) -> Vm:
        """The running machine."""
        assert self.vm is not None and self.vm.alive(), "the device is not powered on"
        return self.vm

    def power_on(self) -> Vm:
        """Power on; the serial log starts afresh."""
        assert self.vm is None or not self.vm.alive()
        if self.vm is not None:
            self.earlier_boots += _BOOTED.findall(self.vm.serial_text())
        self.vm = power_on(self.disk, self.tmp / "serial.log")
        self.client = None
        return self.vm

    def boots(self) -> list[str]:
        """The slots U-Boot chose since this power-on, in order."""
        return _BOOTED.findall(self.machine.serial_text())

    def all_boots(self) -> list[str]:
        """The slots U-Boot chose since the first power-on, in order."""
        return self.earlier_boots + self.boots()

    def web(self) -> HttpsClient:
        """A logged-in HTTPS client trusting the device's own certificate."""
        if self.client is None:
            assert self.cafile is not None, "the device certificate was not read yet"
            # An emulated guest writing a slot can take a while to answer.
            client = HttpsClient(self.machine.https, self.cafile, timeout_s=GUEST_ANSWER_S)
            reply = client.post("/login", {"username": ADMIN, "password": PASSWORD})
            assert reply.status == 303, reply.text
            match = _CSRF.search(client.get("/account").text)
            assert match, "no CSRF token on the account page"
            self.csrf = match[1]
            self.client = client
        return self.client

    def status(self) -> dict[str, Any]:
        """The update status the maintenance page polls."""
        reply = self.web().get("/ui/update/status.json")
        assert reply.status == 200, reply.text
        body: dict[str, Any] = json.loads(reply.body)
        return body

    def armed(self) -> dict[str, Any] | None:
        """The update status once it shows an armed trial, else None."""
        status = self.status()
        return status if status["reboot_pending"] else None

    def maintenance(self) -> dict[str, str]:
        """The firmware section of the maintenance page: booted slot, other slot, rejection."""
        text = self.web().get("/maintenance").text
        found = {}
        for key in ("running-version", "booted-slot", "other-slot", "last-rejection"):
            match = re.search(rf'id="{key}">\s*(.*?)\s*</td>', text, re.S)
            found[key] = " ".join(match[1].split()) if match else ""
        unavailable = re.search(r'id="update-unavailable">([^<]*)<', text)
        found["unavailable"] = unavailable[1] if unavailable else ""
        return found

    def upload(self, bundle: Path) -> Reply:
        """Send a bundle as the page's script does: raw body, CSRF header, own Origin.

        Streamed in 1 MiB pieces with a generous per-write time-out (the guest is
        emulated); if the device answers before taking it all, that answer is returned.
        """
        client = self.web()
        conn = http.client.HTTPSConnection(
            "127.0.0.1", client.port, context=client.context(), timeout=UPLOAD_WRITE_TIMEOUT_S
        )
        try:
            conn.putrequest("POST", "/ui/update/upload")
            for name, value in {
                "Content-Type": "application/octet-stream",
                "Content-Length": str(bundle.stat().st_size),
                "Cookie": f"{COOKIE_NAME}={client.cookie}",
                "X-CSRF-Token": self.csrf,
                "X-Bundle-Name": bundle.name,
                "Origin": client.origin,
            }.items():
                conn.putheader(name, value)
            conn.endheaders()
            try:
                with open(bundle, "rb") as f:
                    while chunk := f.read(1 << 20):
                        conn.send(chunk)
            except OSError as exc:
                try:
                    resp = conn.getresponse()
                except (OSError, http.client.HTTPException):
                    raise exc from None
                return Reply(resp.status, list(resp.getheaders()), resp.read())
            resp = conn.getresponse()
            return Reply(resp.status, list(resp.getheaders()), resp.read())
        finally:
            conn.close()

    def install(self, bundle: Path) -> dict[str, Any]:
        """Upload a bundle and wait for its job to end; the final job."""
        started = time.monotonic()
        reply = self.upload(bundle)
        assert reply.status == 202, f"{reply.status}: {reply.text}"

        def finished() -> dict[str, Any] | None:
            try:
                job = self.status()["job"]
            except TimeoutError:
                return None  # busy writing on a loaded host: ask again, within the deadline
            return job if job and job["phase"] in ("installed", "failed") else None

        job = wait_for(self.machine, finished, "the install to end", INSTALL_DEADLINE_S)
        self.numbers[f"install {bundle.name}"] = time.monotonic() - started
        return job

    def reboot_into_update(self) -> None:
        """Press "Reboot into the new version" on the maintenance page."""
        client = self.web()
        reply = client.post("/maintenance/update/reboot", {"csrf": self.csrf})
        self.client = None  # the session survives, but a new boot means new connections
        assert reply.status == 200, f"reboot into the update answered {reply.status}: {reply.text}"

    def wait_boot(self, count: int, slot: str, seconds: float = BOOT_DEADLINE_S) -> None:
        """Wait until U-Boot has chosen `count` slots in all, the last one `slot`."""
        boots = wait_for(
            self.machine,
            lambda: self.all_boots() if len(self.all_boots()) >= count else None,
            f"boot number {count} ({slot})",
            seconds,
        )
        assert boots[count - 1] == slot, f"U-Boot chose {boots}; expected {slot} at {count}"

    def wait_committed(self, slot: str, seconds: float = 300) -> dict[str, str]:
        """Wait for mark-good of `slot` (3 tries, first in the order) on the live disk."""
        left = f"BOOT_{slot}_LEFT"

        def committed() -> dict[str, str] | None:
            env = live_env(self.machine, self.tmp)
            ok = env.get(left) == "3" and env.get("BOOT_ORDER", "").startswith(slot)
            return env if ok else None

        return wait_for(self.machine, committed, f"slot {slot} committed", seconds)

    def env_after_power_off(self) -> dict[str, str]:
        """Press the power button and read the boot environment from the disk."""
        self.machine.power_button()
        return boot_env(self.disk, self.tmp / "env")


def _bundle(out: Path, payloads: Path, version: str, min_version: str) -> Path:
    """`make bundle` over the given payloads, into `out` (the development key signs)."""
    board_dir = out / BOARD
    shutil.rmtree(board_dir, ignore_errors=True)
    board_dir.mkdir(parents=True)
    for name in ("boot.img", "rootfs.squashfs"):
        (board_dir / name).symlink_to(payloads / name)
    subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-o",
            ".venv/.installed",  # never reinstall the venv from a test
            "bundle",
            f"BOARD={BOARD}",
            f"OUT={out}",
            f"VERSION={version}",
            f"MIN_VERSION={min_version}",
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    bundle = out / f"evsite-{version}-{BOARD}.bundle"
    assert bundle.exists()
    return bundle


def _tampered(bundle: Path, dest: Path, where: str) -> Path:
    """A copy with one byte flipped: in the signed manifest, or near the end of a payload."""
    data = bytearray(bundle.read_bytes())
    manifest_len = int.from_bytes(data[8:12], "big")
    offset = 12 + manifest_len // 2 if where == "manifest" else len(data) - 4096
    data[offset] ^= 0x01
    dest.write_bytes(bytes(data))
    return dest


@pytest.fixture(scope="module")
def payloads() -> Path:
    """The image's payloads (the bundles are made from them)."""
    path = OUT / BOARD
    if not (path / "rootfs.squashfs").exists():
        pytest.skip(f"no payloads in {path}: run `make image BOARD={BOARD}` first")
    return path


def _variant(payloads: Path, name: str) -> Path:
    """A broken variant of the payloads, made from the build tree unless it is up to date."""
    path = payloads / "variants" / name
    squashfs = path / "rootfs.squashfs"
    base = payloads / "rootfs.squashfs"
    if not squashfs.exists() or squashfs.stat().st_mtime < base.stat().st_mtime:
        done = subprocess.run(
            ["image/scripts/variant.sh"],
            cwd=REPO,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "BOARD": BOARD, "VARIANT": name},
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot make the {name} variant: {done.stderr.strip()[-300:]}")
    return path


@pytest.fixture(scope="module")
def failing_payloads(payloads: Path) -> Path:
    """The app-fails variant: the app never starts."""
    return _variant(payloads, "app-fails")


@pytest.fixture(scope="module")
def hanging_payloads(payloads: Path) -> Path:
    """The app-hangs variant: the app says it is ready and then hangs."""
    return _variant(payloads, "app-hangs")


@pytest.fixture(scope="module")
def device(image: Image, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Device]:
    """A copy of the image's disk with 1 GiB more for the data partition (bundles land there)."""
    if image.board != "qemu-arm64":
        pytest.skip("the QEMU update test needs BOARD=qemu-arm64")
    need_qemu()
    missing = tools_missing()
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (apt-get install e2fsprogs coreutils)")
    tmp = tmp_path_factory.mktemp("update")
    dev = Device(copy_disk(image.path, tmp / "disk.img", 1024 * 1024 * 1024), tmp)
    yield dev
    if dev.vm is not None and dev.vm.alive():
        try:
            dev.vm.power_button(60)  # a clean stop keeps the journal's last words
        except BaseException:
            dev.vm.stop()
    with contextlib.suppress(Exception):
        print(f"\n  device journal: {save_journal(dev.disk, tmp / 'journal')}")
    lines = [f"  {k}: {v:.0f} s" for k, v in dev.numbers.items()]
    lines += [f"  {k}: {v / 2**20:.1f} MiB" for k, v in dev.sizes.items()]
    lines += [f"  note: {n}" for n in dict.fromkeys(dev.notes)]
    print("\n" + "\n".join(lines))


@pytest.fixture(scope="module")
def bundles(payloads: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this module's bundles are made."""
    return tmp_path_factory.mktemp("bundles")


@pytest.mark.timeout(900)
def test_first_boot_serves_health_over_https_and_keeps_ssh_closed(device: Device) -> None:
    vm = device.power_on()
    device.numbers["power-on to /healthz (first boot)"] = wait_healthy(vm)
    assert device.boots() == ["A"]
    assert not ssh_banner(vm.ssh).startswith(b"SSH-")


@pytest.mark.timeout(900)
def test_setup_secret_from_the_data_partition_then_admin_login_over_https(device: Device) -> None:
    device.machine.power_button()
    files = read_data_files(
        device.disk, [SECRET_PATH, WEB_CERT_PATH, OCPP_CERT_PATH], device.tmp / "data"
    )
    secret = files[SECRET_PATH].decode().strip()
    assert len(secret) >= 20
    device.cafile = device.tmp / "web-ca.pem"
    device.cafile.write_bytes(files[WEB_CERT_PATH])
    device.ocpp_ca = device.tmp / "ocpp-ca.pem"
    device.ocpp_ca.write_bytes(files[OCPP_CERT_PATH])

    vm = device.power_on()
    device.numbers["power-on to /healthz"] = wait_healthy(vm)
    # Verifies the device's own certificate.
    client = HttpsClient(vm.https, device.cafile, timeout_s=GUEST_ANSWER_S)
    assert client.get("/").location == "/setup"
    wrong = client.post(
        "/setup",
        {"secret": "not-it", "username": ADMIN, "password": PASSWORD, "password2": PASSWORD},
    )
    assert wrong.status == 403
    done = client.post(
        "/setup", {"secret": secret, "username": ADMIN, "password": PASSWORD, "password2": PASSWORD}
    )
    assert done.status == 303, done.text
    device.web()  # logs in, keeps the cookie and the CSRF token
    assert device.maintenance()["running-version"] == RUNNING


@pytest.mark.timeout(300)
def test_station_enrolled_in_the_ui_connects_over_wss(device: Device) -> None:
    client = device.web()
    added = client.post("/stations/add", {"csrf": device.csrf, "station_id": STATION})
    assert added.status == 200, added.text
    key = _NEW_KEY.search(added.text)
    assert key, added.text
    assert device.ocpp_ca is not None
    context = ssl.create_default_context(cafile=str(device.ocpp_ca))
    port = device.machine.ocpp

    async def connect_and_boot() -> str:
        import base64

        token = base64.b64encode(f"{STATION}:{key[1]}".encode()).decode()
        async with connect(
            f"wss://127.0.0.1:{port}/ocpp/{STATION}",
            ssl=context,
            subprotocols=[Subprotocol("ocpp1.6")],
            additional_headers={"Authorization": f"Basic {token}"},
            open_timeout=30,
        ) as ws:
            cp = ChargePoint(STATION, ws, response_timeout=30)
            task = asyncio.create_task(cp.start())
            try:
                reply = await cp.call(
                    call.BootNotification(charge_point_vendor="QEMU", charge_point_model="T1")
                )
                return str(reply.status)
            finally:
                task.cancel()

    assert asyncio.run(connect_and_boot()) == "Accepted"


@pytest.mark.timeout(2400)
def test_signed_bundle_uploaded_boots_b_on_trial_and_is_committed(
    device: Device, payloads: Path, bundles: Path
) -> None:
    page = device.maintenance()
    assert page["unavailable"] == "", f"updates are off on the device: {page['unavailable']}"
    assert page["booted-slot"] == "A"
    bundle = _bundle(bundles, payloads, GOOD, RUNNING)
    device.sizes[bundle.name] = bundle.stat().st_size
    job = device.install(bundle)
    assert job["phase"] == "installed", json.dumps(job)
    assert (job["slot"], job["version"]) == ("B", GOOD)
    # The status reads the boot environment through a helper and keeps it a few seconds.
    status = wait_for(device.machine, device.armed, "the armed trial in the update status", 60)
    assert status["pending_version"] == GOOD
    env = live_env(device.machine, device.tmp)
    assert env["BOOT_ORDER"] == "B A" and env["BOOT_B_LEFT"] == "1", env  # one-shot trial

    started = time.monotonic()
    before = len(device.all_boots())
    device.reboot_into_update()
    device.wait_boot(before + 1, "B")
    wait_healthy(device.machine)
    env = device.wait_committed("B")
    device.numbers["reboot to B committed"] = time.monotonic() - started
    assert env["BOOT_ORDER"] == "B A" and env["BOOT_A_LEFT"] == "3", env  # A is the fallback
    page = device.maintenance()
    assert page["booted-slot"] == "B"
    assert "fallback" in page["other-slot"], page
    assert not device.status()["reboot_pending"]


@pytest.mark.timeout(1800)
def test_tampered_bundles_are_refused_with_their_reason(
    device: Device, payloads: Path, bundles: Path
) -> None:
    good = _bundle(bundles, payloads, LATER, RUNNING)
    manifest = _tampered(good, bundles / "manifest-tampered.bundle", "manifest")
    job = device.install(manifest)
    assert (job["phase"], job["reason"]) == ("failed", "bad-signature"), json.dumps(job)
    env = live_env(device.machine, device.tmp)
    assert env["BOOT_ORDER"] == "B A", "a bundle refused at its signature changed the boot order"

    payload = _tampered(good, bundles / "payload-tampered.bundle", "payload")
    job = device.install(payload)
    assert (job["phase"], job["reason"]) == ("failed", "payload-hash-mismatch"), json.dumps(job)
    # The half-trusted write is never bootable: A is out of the order until a good install.
    env = live_env(device.machine, device.tmp)
    assert env["BOOT_ORDER"] == "B" and env["BOOT_A_LEFT"] == "0", env
    assert not device.status()["reboot_pending"]
    assert wait_healthy(device.machine)


def _trial_rolls_back_to_b(device: Device, bundle: Path, version: str, label: str) -> None:
    """Install a broken version into A, reboot into it, and see the device return to B."""
    job = device.install(bundle)
    assert (job["phase"], job["slot"]) == ("installed", "A"), json.dumps(job)
    started = time.monotonic()
    before = len(device.all_boots())
    device.reboot_into_update()
    device.wait_boot(before + 1, "A")  # the trial
    # The unit fails five times (it exits, or the watchdog kills it), the start limit
    # reboots, and A has no tries left.
    device.wait_boot(before + 2, "B", seconds=900)
    wait_healthy(device.machine)
    env = device.wait_committed("B")
    device.numbers[f"{label} trial to back on B"] = time.monotonic() - started
    assert env["BOOT_ORDER"] == "B" and env["BOOT_A_LEFT"] == "0", env
    page = device.maintenance()
    assert page["booted-slot"] == "B"
    assert f"slot A, version {version}" in page["last-rejection"], page


@pytest.mark.timeout(2400)
def test_version_whose_app_never_starts_rolls_back_by_itself(
    device: Device, failing_payloads: Path, bundles: Path
) -> None:
    bundle = _bundle(bundles, failing_payloads, FAILING, RUNNING)
    _trial_rolls_back_to_b(device, bundle, FAILING, "failing")


@pytest.mark.timeout(2400)
def test_version_whose_app_hangs_rolls_back_by_itself(
    device: Device, hanging_payloads: Path, bundles: Path
) -> None:
    # Ready, then silent: the watchdog kills it until the start limit reboots.
    bundle = _bundle(bundles, hanging_payloads, HANGING, RUNNING)
    _trial_rolls_back_to_b(device, bundle, HANGING, "hanging")


@pytest.mark.timeout(2400)
def test_power_cut_while_writing_a_slot_boots_the_running_slot(
    device: Device, payloads: Path, bundles: Path
) -> None:
    bundle = _bundle(bundles, payloads, LATER, RUNNING)
    reply = device.upload(bundle)
    assert reply.status == 202, reply.text

    def writing() -> bool:
        try:
            job = device.status()["job"]
        except TimeoutError:
            return False  # busy on a loaded host: ask again, within the deadline
        return bool(job and job["phase"] == "write" and (job["percent"] or 0) >= 10)

    wait_for(device.machine, writing, "the slot write under way", INSTALL_DEADLINE_S)
    device.machine.cut_power()
    env = boot_env(device.disk, device.tmp / "env")
    assert env["BOOT_ORDER"] == "B", f"a half-written slot is in the boot order: {env}"

    vm = device.power_on()
    wait_healthy(vm)
    assert device.boots() == ["B"]
    device.wait_committed("B")
    status = device.status()
    assert not status["reboot_pending"]
    assert "not bootable" in device.maintenance()["other-slot"]


@pytest.mark.timeout(2400)
def test_power_cut_as_the_trial_passes_its_health_check_still_boots_a_good_slot(
    device: Device, payloads: Path, bundles: Path
) -> None:
    job = device.install(_bundle(bundles, payloads, LATER, RUNNING))
    assert (job["phase"], job["slot"]) == ("installed", "A"), json.dumps(job)
    before = len(device.all_boots())
    device.reboot_into_update()
    device.wait_boot(before + 1, "A")
    # The commit (mark-good) follows the first answer of the UI within moments: cut then.
    wait_healthy(device.machine)
    device.machine.cut_power()
    env = boot_env(device.disk, device.tmp / "env")
    committed = env["BOOT_A_LEFT"] == "3"

    vm = device.power_on()
    wait_healthy(vm)
    booted = device.boots()[0]
    # Committed: A is the new primary. Not yet: A had its one try, so B boots again.
    assert booted == ("A" if committed else "B"), (env, device.boots())
    after = device.wait_committed(booted)
    page = device.maintenance()
    assert page["booted-slot"] == booted
    print(f"power cut {'after' if committed else 'before'} the commit; booted {booted}: {after}")


@pytest.mark.timeout(900)
def test_torn_boot_environment_write_falls_back_to_the_older_copy(device: Device) -> None:
    env = device.env_after_power_off()
    slot = env["BOOT_ORDER"].split()[0]
    newer = _newer_env_copy(device)
    _corrupt_env_copy(device, newer)
    vm = device.power_on()
    wait_healthy(vm)
    assert f"boot environment copy {3 - newer} loaded" in vm.serial_text()
    assert device.boots() == [slot]
    device.wait_committed(slot)


def _env_copies(device: Device) -> dict[int, bytes]:
    from tests.image.conftest import read_table

    parts, _ = read_table(device.disk)
    spec = f"{device.disk}@@{parts['firmware'].start}"
    copies = {}
    for n in (1, 2):
        dest = device.tmp / f"torn{n}.env"
        subprocess.run(
            ["mcopy", "-o", "-n", "-i", spec, f"::bootchooser{n}.env", str(dest)],
            check=True,
            env={"MTOOLS_SKIP_CHECK": "1", "PATH": "/usr/bin:/bin"},
        )
        copies[n] = dest.read_bytes()
    return copies


def _newer_env_copy(device: Device) -> int:
    copies = _env_copies(device)
    f1, f2 = copies[1][4], copies[2][4]
    # Flags count up by one per write and wrap from 255 to 0.
    return 2 if (f2 - f1) % 256 == 1 else 1


def _corrupt_env_copy(device: Device, n: int) -> None:
    """What a power cut in the middle of writing copy n leaves: its tail is stale garbage."""
    from tests.image.conftest import read_table

    data = bytearray(_env_copies(device)[n])
    data[5:64] = bytes(59)  # the first variables zeroed: the CRC no longer matches
    path = device.tmp / f"torn{n}.env"
    path.write_bytes(bytes(data))
    parts, _ = read_table(device.disk)
    subprocess.run(
        [
            "mcopy",
            "-o",
            "-n",
            "-i",
            f"{device.disk}@@{parts['firmware'].start}",
            str(path),
            f"::bootchooser{n}.env",
        ],
        check=True,
        env={"MTOOLS_SKIP_CHECK": "1", "PATH": "/usr/bin:/bin"},
    )


@pytest.mark.timeout(600)
def test_ssh_switched_on_in_the_ui_answers_and_switched_off_does_not(device: Device) -> None:
    client = device.web()
    assert not ssh_banner(device.machine.ssh).startswith(b"SSH-")
    reply = client.post("/maintenance/ssh", {"csrf": device.csrf, "enabled": "on", "minutes": "5"})
    assert reply.status == 303, reply.text
    # Host keys are made on the data partition first: under TCG that takes a moment.
    wait_for(
        device.machine,
        lambda: ssh_banner(device.machine.ssh).startswith(b"SSH-"),
        "an SSH banner on port 22",
        120,
    )
    assert 'id="ssh-state">on<' in client.get("/maintenance").text
    reply = client.post("/maintenance/ssh", {"csrf": device.csrf, "enabled": "off"})
    assert reply.status == 303, reply.text
    wait_for(
        device.machine,
        lambda: not ssh_banner(device.machine.ssh).startswith(b"SSH-"),
        "port 22 closed again",
        60,
    )


@pytest.mark.timeout(1200)
def test_factory_reset_in_the_ui_wipes_the_data_and_brings_setup_back(device: Device) -> None:
    slot = device.maintenance()["booted-slot"]
    client = device.web()
    wrong = client.post(
        "/maintenance/factory-reset",
        {"csrf": device.csrf, "password": "not-the-password", "confirm": "RESET"},
    )
    assert wrong.status == 400
    before = len(device.all_boots())
    started = time.monotonic()
    reply = client.post(
        "/maintenance/factory-reset",
        {"csrf": device.csrf, "password": PASSWORD, "confirm": "RESET"},
    )
    assert reply.status == 200, reply.text
    device.client = None
    device.wait_boot(before + 1, slot)
    wait_healthy(device.machine)
    device.numbers["factory reset to healthy"] = time.monotonic() - started

    device.machine.power_button()
    parts, _ = read_table(device.disk)
    counter = device.tmp / "factory-resets"
    subprocess.run(
        ["mcopy", "-o", "-n", "-i", f"{device.disk}@@{parts['firmware'].start}",
         "::factory-resets", str(counter)],
        check=True,
        env={"MTOOLS_SKIP_CHECK": "1", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert counter.read_text().strip() == "1"
    assert boot_env(device.disk, device.tmp / "env")["BOOT_ORDER"].startswith(slot)
    files = read_data_files(device.disk, [SECRET_PATH, WEB_CERT_PATH], device.tmp / "data-after")
    assert len(files[SECRET_PATH].decode().strip()) >= 20
    assert device.cafile is not None
    assert files[WEB_CERT_PATH] != device.cafile.read_bytes(), "the UI kept its old certificate"
    # Nothing of the old data can be found by reading the raw partition.
    needles = [ADMIN.encode(), STATION.encode()]
    leftovers = _find_on_partition(device.disk, parts["data"].start, parts["data"].size, needles)
    assert leftovers == [], f"found on the wiped data partition: {leftovers}"

    device.cafile.write_bytes(files[WEB_CERT_PATH])
    vm = device.power_on()
    wait_healthy(vm)
    fresh = HttpsClient(vm.https, device.cafile, timeout_s=GUEST_ANSWER_S)
    assert fresh.get("/").location == "/setup"
    # The old admin is gone with the data: no session for it, only the way to setup.
    login = fresh.post("/login", {"username": ADMIN, "password": PASSWORD})
    assert login.location == "/setup" and not fresh.cookie, (login.status, login.location)


def _find_on_partition(disk: Path, start: int, size: int, needles: list[bytes]) -> list[bytes]:
    """Which of the needles appear anywhere in the partition's raw bytes."""
    found: set[bytes] = set()
    overlap = max(len(n) for n in needles)
    tail = b""
    with open(disk, "rb") as f:
        f.seek(start)
        left = size
        while left > 0:
            chunk = f.read(min(left, 8 << 20))
            if not chunk:
                break
            left -= len(chunk)
            window = tail + chunk
            found.update(n for n in needles if n in window)
            tail = window[-overlap:]
    return sorted(found)
