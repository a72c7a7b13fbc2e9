"""Inspection of the built image without booting it: layout, files, units, firewall, accounts."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.image.conftest import OUT, Image, read_env

pytestmark = pytest.mark.image

MiB = 1024 * 1024
TYPE_FAT = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"
TYPE_ROOT_ARM64 = "B921B045-1DF0-41C3-AF44-4C6F280D3FAE"
TYPE_LINUX = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
MASKED = ("getty@", "serial-getty@", "autovt@", "debug-shell", "console-getty")
# Set-user-ID programs a minimal Debian brings; anything else is a new way up to root.
SETUID_ALLOWED = {
    "chfn",
    "chsh",
    "gpasswd",
    "mount",
    "newgrp",
    "passwd",
    "su",
    "umount",
    "dbus-daemon-launch-helper",
    "ssh-keysign",
}


def _mtools_env() -> dict[str, str]:
    return os.environ | {"MTOOLS_SKIP_CHECK": "1"}


def _fat_files(image: Image, name: str) -> set[str]:
    out = subprocess.run(
        ["mdir", "-b", "-i", image.fat_spec(name), "::/"],
        capture_output=True,
        text=True,
        check=True,
        env=_mtools_env(),
    ).stdout
    return {line.removeprefix("::/").strip() for line in out.splitlines() if line.strip()}


def _unit_dir(rootfs: Path) -> Path:
    return rootfs / "etc/systemd/system"


def test_partition_table_is_gpt_with_firmware_two_slots_of_each_and_data(image: Image) -> None:
    assert image.table["label"] == "gpt"
    assert list(image.partitions) == [
        "firmware",
        "boot_a",
        "boot_b",
        "rootfs_a",
        "rootfs_b",
        "data",
    ]
    types = {p.name: p.type for p in image.partitions.values()}
    assert types == {
        "firmware": TYPE_FAT,
        "boot_a": TYPE_FAT,
        "boot_b": TYPE_FAT,
        "rootfs_a": TYPE_ROOT_ARM64,
        "rootfs_b": TYPE_ROOT_ARM64,
        "data": TYPE_LINUX,
    }
    for p in image.partitions.values():
        assert p.start % MiB == 0 and p.size % MiB == 0, f"{p.name} is not MiB-aligned"
    assert image.partitions["boot_a"].size == image.partitions["boot_b"].size
    assert image.partitions["rootfs_a"].size == image.partitions["rootfs_b"].size
    assert "LegacyBIOSBootable" in image.partitions["firmware"].attrs
    # data is last, so the first boot can grow it over the rest of the disk.
    assert max(image.partitions.values(), key=lambda p: p.start).name == "data"


def test_partition_uuids_match_what_the_root_filesystem_expects(image: Image, rootfs: Path) -> None:
    listed = dict(
        line.split("=", 1)
        for line in (rootfs / "etc/evsite/partitions").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    for p in image.partitions.values():
        assert listed[f"PART_{p.name.upper()}_UUID"].upper() == p.uuid.upper()
    fstab = (rootfs / "etc/fstab").read_text().upper()
    assert f"PARTUUID={image.partitions['data'].uuid.upper()} /DATA EXT4" in fstab
    assert f"PARTUUID={image.partitions['firmware'].uuid.upper()} /BOOT/FIRMWARE VFAT" in fstab


def test_firmware_partition_holds_boot_script_and_a_fresh_boot_environment(
    image: Image, tmp_path: Path
) -> None:
    files = _fat_files(image, "firmware")
    assert {"boot.scr", "bootchooser1.env", "bootchooser2.env"} <= files
    assert "uboot.env" not in files  # U-Boot's own environment file is never used
    env = read_env(image.fat_spec("firmware"), tmp_path)
    # A fresh device: slot A installed and first, B empty and out of the order.
    assert env == {"BOOT_ORDER": "A", "BOOT_A_LEFT": "3", "BOOT_B_LEFT": "0"}
    if image.board == "cm4":
        assert {
            "start4.elf",
            "fixup4.dat",
            "u-boot.bin",
            "config.txt",
            "bcm2711-rpi-cm4-io.dtb",
        } <= files


def test_cm4_firmware_config_keeps_the_uart_off(image: Image) -> None:
    if image.board != "cm4":
        pytest.skip("Raspberry Pi firmware settings exist on the cm4 board only")
    out = subprocess.run(
        ["mtype", "-i", image.fat_spec("firmware"), "::config.txt"],
        capture_output=True,
        text=True,
        check=True,
        env=_mtools_env(),
    ).stdout
    settings = dict(
        line.split("=", 1) for line in out.splitlines() if "=" in line and not line.startswith("#")
    )
    assert settings["enable_uart"] == "0"
    assert settings["kernel"] == "u-boot.bin"


def test_boot_script_boots_the_chosen_slot_without_a_console(image: Image) -> None:
    script = image.read("firmware")  # boot.scr is small: search the whole FAT
    text = script[script.find(b"evsite A/B boot chooser") :].split(b"\0", 1)[0].decode()
    assert "evsite.slot=${BOOT_SLOT}" in text
    assert "rootfstype=squashfs ro" in text
    release = subprocess.run(
        ["mtype", "-i", image.fat_spec("firmware"), "::boot.scr"],
        capture_output=True,
        check=True,
        env=_mtools_env(),
    ).stdout
    if b"console=" in release:
        pytest.fail("console= on the kernel command line: a CONSOLE=1 debug build was tested")


def test_boot_slot_a_has_kernel_and_initramfs_and_slot_b_is_empty(image: Image) -> None:
    assert {"Image", "initrd.img"} <= _fat_files(image, "boot_a")
    assert image.read("boot_b", 4096) == bytes(4096)
    assert image.read("rootfs_a", 4) == b"hsqs"
    assert image.read("rootfs_b", 4096) == bytes(4096)


def test_boot_and_root_payloads_are_the_slot_contents_and_are_summed(image: Image) -> None:
    payloads = OUT / image.board
    boot = (payloads / "boot.img").read_bytes()
    assert image.read("boot_a", len(boot)) == boot
    root = (payloads / "rootfs.squashfs").read_bytes()
    assert image.read("rootfs_a", len(root)) == root
    sums = (OUT / "SHA256SUMS").read_text()
    for name in (f"{image.board}/boot.img", f"{image.board}/rootfs.squashfs"):
        assert name in sums


def test_consoles_and_debug_shell_are_masked(rootfs: Path) -> None:
    for unit in MASKED:
        link = _unit_dir(rootfs) / f"{unit}.service"
        assert link.is_symlink() and os.readlink(link) == "/dev/null", f"{unit} is not masked"
    assert not list((_unit_dir(rootfs)).glob("getty.target.wants/*"))


def test_services_enabled_and_ssh_not(rootfs: Path) -> None:
    wants = {p.name for p in _unit_dir(rootfs).glob("*.wants/*")}
    for unit in (
        "evsite.service",
        "nftables.service",
        "systemd-networkd.service",
        "systemd-resolved.service",
        "systemd-timesyncd.service",
        "evsite-data-layout.service",
        "var-log.mount",
        "evsite-priv-ssh-switch.socket",
        "evsite-priv-factory-wipe.socket",
        "evsite-priv-reboot.socket",
    ):
        assert unit in wants, f"{unit} is not enabled"
    assert not {"ssh.service", "ssh.socket", "sshd.service"} & wants
    assert (rootfs / "usr/sbin/sshd").exists()


def test_no_private_keys_anywhere_in_the_root(rootfs: Path) -> None:
    assert not list((rootfs / "etc/ssh").glob("ssh_host_*"))
    found = subprocess.run(
        ["grep", "-rlI", "--exclude-dir=proc", "-e", "PRIVATE KEY-----", str(rootfs)],
        capture_output=True,
        text=True,
    ).stdout.split()
    # Library sources that merely name the PEM marker are fine; a key file is not.
    keys = [
        f
        for f in found
        if not f.endswith((".py", ".pyi", ".h", ".so"))
        and re.search(
            rb"-----BEGIN [A-Z ]*PRIVATE KEY-----\r?\n[A-Za-z0-9+/]{40}", Path(f).read_bytes()
        )
    ]
    assert keys == []


def test_every_account_is_locked_and_has_no_default_user(rootfs: Path) -> None:
    for line in (rootfs / "etc/shadow").read_text().splitlines():
        name, password = line.split(":")[:2]
        assert password.startswith(("!", "*")), f"{name} has a usable password field"
    users = {
        line.split(":")[0]: line.split(":")
        for line in (rootfs / "etc/passwd").read_text().splitlines()
    }
    assert "pi" not in users
    assert users["evsite"][6] == "/usr/sbin/nologin"
    assert users["evsite"][5] == "/data/evsite"


def test_firewall_rules_parse_and_drop_by_default(rootfs: Path) -> None:
    conf = rootfs / "etc/nftables.conf"
    subprocess.run(["nft", "-c", "-f", str(conf)], check=True)
    text = conf.read_text()
    assert re.search(r"hook input priority filter; policy drop;", text)
    assert re.search(r"hook forward priority filter; policy drop;", text)
    assert "tcp dport { 443, 8887 } accept" in text
    assert "tcp dport @dynamic_tcp accept" in text
    for port in ("22", "8886"):
        assert not re.search(rf"dport[^\n]*\b{port}\b", text), f"port {port} open statically"
    # 502 only from the BMS server's allowed sources, which the sets hold while it is on.
    bms_rules = re.findall(r"^[^#\n]*dport 502\b[^\n]*$", text, re.M)
    assert bms_rules and all(re.search(r"saddr @bms_v[46] ", r) for r in bms_rules), bms_rules


def test_privileged_helpers_are_sockets_for_group_evsite_only(rootfs: Path) -> None:
    sockets = sorted(_unit_dir(rootfs).glob("evsite-priv-*.socket"))
    assert {s.name for s in sockets} >= {
        f"evsite-priv-{h}.socket" for h in ("ssh-switch", "firewall-port", "reboot", "factory-wipe")
    }
    for sock in sockets:
        text = sock.read_text()
        assert "SocketGroup=evsite" in text and "SocketMode=0660" in text and "Accept=yes" in text
        helper = sock.name.removeprefix("evsite-priv-").removesuffix(".socket")
        service = (_unit_dir(rootfs) / f"evsite-priv-{helper}@.service").read_text()
        assert f"ExecStart=/usr/libexec/evsite/priv-exec /usr/libexec/evsite/{helper}" in service
        mode = (rootfs / "usr/libexec/evsite" / helper).stat().st_mode
        assert mode & stat.S_IXUSR and not mode & stat.S_IWOTH


def test_no_sudo_no_compiler_and_only_known_setuid_programs(rootfs: Path) -> None:
    for tool in ("usr/bin/sudo", "usr/bin/gcc", "usr/bin/cc", "opt/evsite/venv/bin/pip"):
        assert not (rootfs / tool).exists(), f"{tool} is in the image"
    setuid = {
        p.name
        for p in rootfs.rglob("*")
        if p.is_file() and not p.is_symlink() and p.stat().st_mode & stat.S_ISUID
    }
    assert setuid <= SETUID_ALLOWED


def test_app_unit_is_unprivileged_and_hardened(rootfs: Path) -> None:
    unit = (_unit_dir(rootfs) / "evsite.service").read_text()
    for line in (
        "User=evsite",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/data/evsite",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        "ExecStart=/opt/evsite/venv/bin/evsite run --config /etc/evsite/config.toml "
        "--data-dir /data/evsite",
        # An app that keeps failing reboots the device, so the boot counters can roll back.
        "StartLimitAction=reboot",
        # ...and one that hangs is failing too: its loop stops the watchdog messages.
        "Type=notify",
        "WatchdogSec=30s",
    ):
        assert line in unit
    assert (rootfs / "opt/evsite/venv/bin/evsite").exists()
    # gpiozero's pin factory for the reset button, built for the device.
    assert list((rootfs / "opt/evsite/venv/lib").glob("python3*/site-packages/_lgpio*aarch64*.so"))


def test_exposure_score_of_the_app_unit(rootfs: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    out = subprocess.run(
        [
            "systemd-analyze",
            "security",
            "--offline=true",
            f"--root={rootfs}",
            "--no-pager",
            "evsite.service",
        ],
        capture_output=True,
        text=True,
    )
    match = re.search(r"Overall exposure level for evsite.service: ([0-9.]+)", out.stdout)
    assert match, out.stdout + out.stderr
    print(f"systemd-analyze security exposure: {match.group(1)}")
    assert float(match.group(1)) < 3.0


def test_kernel_hardening_sysctls(rootfs: Path) -> None:
    sysctl = (rootfs / "etc/sysctl.d/90-evsite.conf").read_text()
    assert re.search(r"^kernel.sysrq = 0$", sysctl, re.M)
    journald = (rootfs / "etc/systemd/journald.conf.d/evsite.conf").read_text()
    assert "Storage=persistent" in journald and "SystemMaxUse=" in journald
