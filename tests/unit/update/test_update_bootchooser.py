"""Bootchooser: RAUC-style operations, the atomic file backend, and the U-Boot backend
driven through the real helpers and libubootenv's fw_printenv/fw_setenv on an env file."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from evsite.update.bootchooser import (
    BootEnvError,
    BootState,
    FileBootchooser,
    UBootBootchooser,
    run_command,
)
from evsite.update.bootscript import run_boot_script
from tests.unit.update.support import helper_command

needs_libubootenv = pytest.mark.skipif(
    shutil.which("fw_setenv") is None or shutil.which("mkenvimage") is None,
    reason="needs libubootenv-tool and u-boot-tools (fw_setenv, mkenvimage)",
)


def test_trial_is_first_with_one_attempt_and_mark_good_commits() -> None:
    s = BootState(("A",), {"A": 3, "B": 0})
    trial = s.trial("B")
    assert (trial.order, trial.left["B"], trial.primary()) == (("B", "A"), 1, "B")
    good = trial.marked_good("B")
    assert (good.order, good.left["B"]) == (("B", "A"), 3)
    bad = trial.marked_bad("B")
    assert (bad.order, bad.left["B"], bad.primary()) == (("A",), 0, "A")
    with pytest.raises(ValueError, match="unknown slot"):
        s.trial("C")


def test_file_backend_round_trips_and_keeps_other_variables(tmp_path: Path) -> None:
    env = tmp_path / "env"
    env.write_text("bootdelay=0\n")
    chooser = FileBootchooser(env)
    chooser.mark_good("A")
    chooser.set_trial("B")
    assert chooser.get_primary() == "B"
    assert chooser.read_env()["bootdelay"] == "0"
    assert FileBootchooser(env).state() == chooser.state()


def test_file_backend_ignores_a_half_written_temporary_file(tmp_path: Path) -> None:
    env = tmp_path / "env"
    chooser = FileBootchooser(env)
    chooser.mark_good("A")
    before = chooser.read_env()
    # A power cut during a write leaves the temp file torn; the real file is untouched.
    (tmp_path / "env.tmp").write_text("BOOT_ORDER=B\nBOOT_B_LE")
    assert chooser.read_env() == before
    assert run_boot_script(chooser.read_env()).slot == "A"


@pytest.fixture
def uboot_env(tmp_path: Path) -> Path:
    """A redundant U-Boot environment in two files, and the fw_env.config describing it."""
    defaults = tmp_path / "defaults.txt"
    defaults.write_text("bootdelay=0\nBOOT_ORDER=A\nBOOT_A_LEFT=3\nBOOT_B_LEFT=0\n")
    for name in ("env1", "env2"):
        subprocess.run(
            ["mkenvimage", "-s", "0x4000", "-r", "-o", str(tmp_path / name), str(defaults)],
            check=True,
        )
    config = tmp_path / "fw_env.config"
    config.write_text(f"{tmp_path / 'env1'} 0x0 0x4000\n{tmp_path / 'env2'} 0x0 0x4000\n")
    return config


def uboot(config: Path) -> UBootBootchooser:
    return UBootBootchooser(
        run_command,
        helper_command("update-get-boot", fw_config=config),
        helper_command("update-set-boot", fw_config=config),
    )


@needs_libubootenv
def test_uboot_backend_reads_and_writes_through_helpers_and_libubootenv(uboot_env: Path) -> None:
    chooser = uboot(uboot_env)
    assert chooser.state() == BootState(("A",), {"A": 3, "B": 0})
    chooser.mark_bad("B")
    chooser.set_trial("B")
    assert chooser.get_primary() == "B"
    out = subprocess.run(
        ["fw_printenv", "-c", str(uboot_env)], capture_output=True, text=True, check=True
    ).stdout
    assert "BOOT_ORDER=B A" in out and "BOOT_B_LEFT=1" in out and "bootdelay=0" in out
    chooser.mark_good("B")
    assert chooser.state() == BootState(("B", "A"), {"A": 3, "B": 3})


@needs_libubootenv
def test_set_helper_refuses_anything_but_boot_variables(uboot_env: Path) -> None:
    for bad in (
        ["bootcmd=run evil"],
        ["BOOT_ORDER=A A"],
        ["BOOT_A_LEFT=10"],
        ["BOOT_ORDER=A;reset"],
        ["BOOT_A_LEFT=1", "BOOT_A_LEFT=2"],
        [],
    ):
        proc = subprocess.run(
            [*helper_command("update-set-boot", fw_config=uboot_env), *bad],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 2, bad
    out = subprocess.run(
        ["fw_printenv", "-c", str(uboot_env)], capture_output=True, text=True, check=True
    ).stdout
    assert "BOOT_ORDER=A\n" in out and "bootcmd" not in out


def test_uboot_backend_reports_helper_failure(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-config"
    chooser = uboot(missing)
    with pytest.raises(BootEnvError, match="failed"):
        chooser.state()
