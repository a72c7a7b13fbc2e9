"""The [update] settings: defaults, and errors that name the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evsite.config_errors import ConfigError
from evsite.update.settings import parse_update_settings


def test_defaults_describe_the_device() -> None:
    s = parse_update_settings({})
    assert s.bootchooser == "uboot" and s.slot_writer == "helper"
    assert s.slots["B"]["rootfs"].path == Path("/dev/disk/by-partlabel/rootfs_b")
    assert s.cmdline_path(Path("/data")) == Path("/proc/cmdline")
    assert s.helper_command("update-set-boot") == [
        "sudo",
        "-n",
        "/usr/libexec/evsite/update-set-boot",
    ]
    with pytest.raises(ConfigError) as err:
        s.require_board()
    assert err.value.key == "update.board"


def test_simulated_setup(tmp_path: Path) -> None:
    s = parse_update_settings(
        {
            "board": "qemu-arm64",
            "bootchooser": "sim",
            "slot_writer": "file",
            "helper_launcher": "privileged",
            "allow_development": True,
            "health_timeout_s": 30,
            "slots": {
                b: {
                    "rootfs": {"path": str(tmp_path / f"r{b}"), "size": "1MiB"},
                    "boot": {"path": str(tmp_path / f"b{b}"), "size": 4096},
                }
                for b in "AB"
            },
        }
    )
    assert s.cmdline_path(tmp_path) == tmp_path / "update" / "cmdline"
    assert s.sim_env_path(tmp_path) == tmp_path / "update" / "bootenv"
    assert s.helper_command("x") == ["/usr/libexec/evsite/privileged", "x"]
    table = s.slot_table()
    assert table.group("B")["rootfs"].size == 1024 * 1024


@pytest.mark.parametrize(
    ("mapping", "key"),
    [
        ({"bord": "cm4"}, "update.bord"),
        ({"board": "CM 4"}, "update.board"),
        ({"bootchooser": "grub"}, "update.bootchooser"),
        ({"slot_writer": "dd"}, "update.slot_writer"),
        ({"keyring": 3}, "update.keyring"),
        ({"allow_development": "yes"}, "update.allow_development"),
        ({"health_timeout_s": 0}, "update.health_timeout_s"),
        ({"slots": {"C": {}}}, "update.slots.C"),
        ({"slots": {"A": {"kernel": {"path": "/x"}}}}, "update.slots.A.kernel"),
        (
            {"slots": {"A": {"rootfs": {"path": "/x", "size": "2 parsecs"}}}},
            "update.slots.A.rootfs.size",
        ),
        ({"slots": {"A": {"rootfs": {"path": "/x", "offset": 1}}}}, "update.slots.A.rootfs.offset"),
        ({"slots": {"A": {"rootfs": {"path": ""}}}}, "update.slots.A.rootfs.path"),
        ({"slots": {"A": {"rootfs": {"path": "/x"}}}}, "update.slots"),
    ],
)
def test_bad_setting_names_its_key(mapping: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_update_settings(mapping)
    assert err.value.key == key


def test_slot_size_is_read_from_the_file_when_not_given(tmp_path: Path) -> None:
    for b in "AB":
        (tmp_path / b).write_bytes(b"\0" * 5000)
    s = parse_update_settings({"slots": {b: {"rootfs": {"path": str(tmp_path / b)}} for b in "AB"}})
    assert s.slot_table().group("A")["rootfs"].size == 5000
    missing = parse_update_settings(
        {"slots": {b: {"rootfs": {"path": str(tmp_path / "no")}} for b in "AB"}}
    )
    with pytest.raises(ConfigError) as err:
        missing.slot_table()
    assert err.value.key == "update.slots.A.rootfs.size"
