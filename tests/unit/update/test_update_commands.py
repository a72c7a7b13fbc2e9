"""The bundle and update subcommands, in-process and as a subprocess."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from evsite.update import commands
from evsite.update.bootchooser import FileBootchooser
from evsite.update.bootscript import simulated_reboot
from evsite.update.signature import key_id
from tests.unit.update.support import bundle_bytes, new_key, payloads, write_public

KEY = new_key()


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A data dir and config for a simulated device; A installed and booted."""
    (tmp_path / "keyring").mkdir()
    write_public(KEY, tmp_path / "keyring" / "release.pub")
    slots = "\n".join(
        f'[update.slots.{b}.{c}]\npath = "{tmp_path / f"{c}_{b}"}"\nsize = "1MiB"\n'
        for b in "AB"
        for c in ("boot", "rootfs")
    )
    (tmp_path / "evsite.toml").write_text(
        f'[update]\nboard = "qemu-arm64"\nbootchooser = "sim"\nslot_writer = "file"\n'
        f'keyring = "{tmp_path / "keyring"}"\n{slots}'
    )
    for b in "AB":
        for c in ("boot", "rootfs"):
            (tmp_path / f"{c}_{b}").write_bytes(b"\0" * 1024 * 1024)
    state = tmp_path / "data" / "update"
    state.mkdir(parents=True)
    FileBootchooser(state / "bootenv").write_env(
        {"BOOT_ORDER": "A", "BOOT_A_LEFT": "3", "BOOT_B_LEFT": "0"}
    )
    simulated_reboot(state / "bootenv", state / "cmdline")
    (tmp_path / "u.bundle").write_bytes(
        bundle_bytes(KEY, payloads(), version="0.2.0", min_version="0.1.0")
    )
    return tmp_path


def run(site: Path, *argv: str) -> int:
    import tomllib

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    commands.register(sub, [])
    args = parser.parse_args(list(argv))
    args.data_dir = site / "data"
    args.raw_config = tomllib.loads((site / "evsite.toml").read_text())
    result: int = args.func(args)
    return result


def test_install_reboot_mark_good_in_process(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(site, "bundle", "info", str(site / "u.bundle")) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["key_id"] == key_id(KEY.public_key()) and info["manifest"]["version"] == "0.2.0"
    assert run(site, "bundle", "verify", str(site / "u.bundle")) == 0
    assert run(site, "update", "install", str(site / "u.bundle")) == 0
    assert "slot B" in capsys.readouterr().out
    state = site / "data" / "update"
    assert simulated_reboot(state / "bootenv", state / "cmdline").slot == "B"
    assert run(site, "update", "mark-good") == 0
    assert capsys.readouterr().out.strip() == "committed"
    assert run(site, "update", "status") == 0
    status = json.loads(capsys.readouterr().out)
    assert status["booted"] == "B" and status["versions"] == {"B": "0.2.0"}
    assert status["min_version"] == "0.1.0" and status["pending"] is None


def test_refusals_and_config_errors_give_exit_codes(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = site / "bad.bundle"
    bad.write_bytes((site / "u.bundle").read_bytes()[:-1])
    assert run(site, "update", "install", str(bad)) == 1
    assert "truncated" in capsys.readouterr().err
    (site / "evsite.toml").write_text('[update]\nbootchooser = "grub"\n')
    assert run(site, "update", "status") == 2
    assert "update.bootchooser" in capsys.readouterr().err


def test_subprocess_entry_point(site: Path) -> None:
    common = ["--data-dir", str(site / "data"), "--config", str(site / "evsite.toml")]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "evsite.update.commands",
            "bundle",
            "verify",
            *common,
            str(site / "u.bundle"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "OK: u.bundle: version 0.2.0" in proc.stdout
    proc = subprocess.run(
        [sys.executable, "-m", "evsite.update.commands", "update", "status", *common],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and json.loads(proc.stdout)["booted"] == "A"
