"""The update-write-slot helper, run as the app runs it (minus sudo), and the helper writer."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from evsite.update.errors import BundleRejected, UpdateError
from evsite.update.slot import HelperSlotWriter, Slot
from tests.unit.update.support import Device, bundle_bytes, helper_command, new_key, payloads


@pytest.fixture
def dev(tmp_path: Path) -> dict[str, Path]:
    partlabels = tmp_path / "by-partlabel"
    partlabels.mkdir()
    for name in ("boot_a", "boot_b", "rootfs_a", "rootfs_b"):
        (partlabels / name).write_bytes(b"\0" * 100_000)
    cmdline = tmp_path / "cmdline"
    cmdline.write_text("root=/dev/mmcblk0p3 evsite.slot=A\n")
    mounts = tmp_path / "mounts"
    mounts.write_text(f"{partlabels / 'boot_a'} /boot vfat ro 0 0\nproc /proc proc rw 0 0\n")
    return {"partlabel_dir": partlabels, "cmdline": cmdline, "mounts": mounts}


def write_slot(
    paths: dict[str, Path], args: list[str], data: bytes
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*helper_command("update-write-slot", **paths), *args],
        input=data,
        capture_output=True,
        check=False,
    )


def test_helper_writes_exact_bytes_and_reports_their_hash(dev: dict[str, Path]) -> None:
    data = b"rootfs!" * 5000
    proc = write_slot(dev, ["B", "rootfs", str(len(data))], data)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().strip() == (
        f"sha256={hashlib.sha256(data).hexdigest()} size={len(data)}"
    )
    assert (dev["partlabel_dir"] / "rootfs_b").read_bytes()[: len(data)] == data


@pytest.mark.parametrize(
    ("args", "data", "code"),
    [
        (["A", "rootfs", "10"], b"x" * 10, 3),  # the running slot
        (["X", "rootfs", "10"], b"x" * 10, 2),
        (["B", "../rootfs", "10"], b"x" * 10, 2),
        (["B", "rootfs", "-1"], b"", 2),
        (["B", "rootfs", "200000"], b"x" * 200_000, 3),  # larger than the partition
        (["B", "rootfs", "10"], b"x" * 5, 4),  # input short
        (["B", "rootfs", "10"], b"x" * 11, 4),  # input long
    ],
)
def test_helper_refuses_bad_requests(
    dev: dict[str, Path], args: list[str], data: bytes, code: int
) -> None:
    assert write_slot(dev, args, data).returncode == code


def test_helper_refuses_a_mounted_partition(dev: dict[str, Path]) -> None:
    dev["cmdline"].write_text("evsite.slot=B\n")
    assert write_slot(dev, ["A", "boot", "10"], b"x" * 10).returncode == 3


def test_install_through_the_helper_writer(tmp_path: Path, dev: dict[str, Path]) -> None:
    device = Device(tmp_path / "device", new_key())
    # Point the device's B slots at the helper's partitions; the helper names them itself.
    writer = HelperSlotWriter(helper_command("update-write-slot", **dev))
    data = payloads()
    device.slots = type(device.slots)(
        [
            *(s for s in device.slots.all() if s.bootname == "A"),
            Slot("boot.B", dev["partlabel_dir"] / "boot_b", 100_000),
            Slot("rootfs.B", dev["partlabel_dir"] / "rootfs_b", 100_000),
        ]
    )
    small = {"boot": data["boot"], "rootfs": data["rootfs"][:90_000]}
    device.installer(writer=writer).install(device.write_bundle(bundle_bytes(device.key, small)))
    assert (dev["partlabel_dir"] / "rootfs_b").read_bytes().startswith(small["rootfs"])
    assert device.bootchooser.get_primary() == "B"
    # A flipped byte: the helper's hash and ours both disagree with the manifest.
    bad = bytearray(bundle_bytes(device.key, small))
    bad[-10] ^= 1
    with pytest.raises(BundleRejected, match="SHA-256"):
        device.installer(writer=writer).install(device.write_bundle(bytes(bad)))
    assert device.bootchooser.get_primary() == "A"


def test_helper_failure_is_a_write_failure(tmp_path: Path, dev: dict[str, Path]) -> None:
    dev["cmdline"].write_text("evsite.slot=B\n")  # now B is "running": the helper refuses
    writer = HelperSlotWriter(helper_command("update-write-slot", **dev))
    sink = writer.open(Slot("rootfs.B", dev["partlabel_dir"] / "rootfs_b", 100_000), 10)
    with pytest.raises(UpdateError, match="running slot"):
        sink.write(b"x" * 10)
        sink.finish()
