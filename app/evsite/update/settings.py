"""The `[update]` settings: where slots, keys and state live, and which backends to use.

Every key is checked here; a bad one raises ConfigError naming `update.<key>`.
Defaults describe the device; `make run` and tests choose the simulated
backends explicitly (`bootchooser = "sim"`, `slot_writer = "file"`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from evsite.config_errors import ConfigError
from evsite.privileged import helper_command
from evsite.update.manifest import PAYLOAD_NAMES
from evsite.update.slot import BOOTNAMES, Slot, SlotTable, slot_size_of

_BOARD_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_SIZE_RE = re.compile(r"^([0-9]+)\s*(|K|M|G|KiB|MiB|GiB)$")
_UNITS = {"": 1, "K": 1024, "KiB": 1024, "M": 1024**2, "MiB": 1024**2, "G": 1024**3, "GiB": 1024**3}
_KEYS = {
    "board",
    "keyring",
    "state_dir",
    "bootchooser",
    "sim_env",
    "cmdline",
    "helper_dir",
    "helper_launcher",
    "slot_writer",
    "allow_development",
    "health_timeout_s",
    "slots",
}


@dataclass(frozen=True)
class SlotSetting:
    """One slot as configured: its path and, optionally, its size in bytes."""

    path: Path
    size: int | None = None


def _default_slots() -> dict[str, dict[str, SlotSetting]]:
    # GPT partition names the image creates: boot_a, rootfs_a, boot_b, rootfs_b.
    return {
        b: {c: SlotSetting(Path(f"/dev/disk/by-partlabel/{c}_{b.lower()}")) for c in PAYLOAD_NAMES}
        for b in BOOTNAMES
    }


@dataclass(frozen=True)
class UpdateSettings:
    """Validated update settings."""

    board: str | None = None
    keyring: Path = Path("/etc/evsite/keyring")
    state_dir: Path | None = None
    bootchooser: Literal["uboot", "sim"] = "uboot"
    sim_env: Path | None = None
    cmdline: Path | None = None
    helper_dir: Path = Path("/usr/libexec/evsite")
    helper_launcher: Literal["sudo", "privileged"] = "sudo"
    slot_writer: Literal["helper", "file"] = "helper"
    allow_development: bool = False
    health_timeout_s: float = 180.0
    slots: dict[str, dict[str, SlotSetting]] = field(default_factory=_default_slots)

    def state_path(self, data_dir: Path) -> Path:
        """The state directory (default: <data_dir>/update)."""
        return self.state_dir or data_dir / "update"

    def sim_env_path(self, data_dir: Path) -> Path:
        """The simulated boot environment file (default: <state dir>/bootenv)."""
        return self.sim_env or self.state_path(data_dir) / "bootenv"

    def cmdline_path(self, data_dir: Path) -> Path:
        """The kernel command line to read the booted slot from.

        /proc/cmdline on the device; with the simulated bootchooser, the file the
        simulated boot script writes (<state dir>/cmdline).
        """
        if self.cmdline is not None:
            return self.cmdline
        if self.bootchooser == "sim":
            return self.state_path(data_dir) / "cmdline"
        return Path("/proc/cmdline")

    def helper_command(self, name: str) -> list[str]:
        """How to run privileged helper `name`: `sudo -n DIR/name` or `DIR/privileged name`."""
        return helper_command(self.helper_dir, self.helper_launcher, name)

    def require_board(self) -> str:
        """The board name, or ConfigError when it is not set."""
        if self.board is None:
            raise ConfigError("update.board", "not set; say which board this is, e.g. 'cm4'")
        return self.board

    def slot_table(self) -> SlotTable:
        """Build the Slot objects, reading sizes of slots configured without one."""
        slots = []
        for bootname, group in self.slots.items():
            for slot_class, setting in group.items():
                key = f"update.slots.{bootname}.{slot_class}"
                size = setting.size
                if size is None:
                    try:
                        size = slot_size_of(setting.path)
                    except (OSError, ValueError) as exc:
                        raise ConfigError(
                            f"{key}.size", f"not set and cannot be read from {setting.path}: {exc}"
                        ) from None
                if size <= 0:
                    raise ConfigError(f"{key}.size", f"{setting.path} has size 0; set size")
                slots.append(Slot(f"{slot_class}.{bootname}", setting.path, size))
        return SlotTable(slots)


def _path(mapping: Mapping[str, Any], key: str, name: str) -> Path:
    value = mapping[key]
    if not isinstance(value, str) or not value:
        raise ConfigError(name, f"must be a non-empty path string, not {value!r}")
    return Path(value)


def _size(value: object, name: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str) and (m := _SIZE_RE.fullmatch(value.strip())):
        size = int(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ConfigError(name, f"must be a byte count or a size like '2GiB', not {value!r}")
    if size <= 0:
        raise ConfigError(name, f"must be positive, not {value!r}")
    return size


def _slots(value: object) -> dict[str, dict[str, SlotSetting]]:
    if not isinstance(value, Mapping):
        raise ConfigError("update.slots", "must be a table of A and B")
    result: dict[str, dict[str, SlotSetting]] = {}
    for bootname, group in value.items():
        where = f"update.slots.{bootname}"
        if bootname not in BOOTNAMES:
            raise ConfigError(where, f"unknown slot; slots are {', '.join(BOOTNAMES)}")
        if not isinstance(group, Mapping) or not group:
            raise ConfigError(where, "must be a table of boot and/or rootfs")
        result[bootname] = {}
        for slot_class, spec in group.items():
            key = f"{where}.{slot_class}"
            if slot_class not in PAYLOAD_NAMES:
                raise ConfigError(
                    key, f"unknown slot class; classes are {', '.join(PAYLOAD_NAMES)}"
                )
            if not isinstance(spec, Mapping) or "path" not in spec:
                raise ConfigError(key, "must be a table with a path (and optionally a size)")
            unknown = sorted(set(spec) - {"path", "size"})
            if unknown:
                raise ConfigError(f"{key}.{unknown[0]}", "unknown key")
            size = _size(spec["size"], f"{key}.size") if "size" in spec else None
            result[bootname][slot_class] = SlotSetting(_path(spec, "path", f"{key}.path"), size)
    if set(result) != set(BOOTNAMES):
        raise ConfigError("update.slots", f"must define both {' and '.join(BOOTNAMES)}")
    classes = {b: set(g) for b, g in result.items()}
    if classes["A"] != classes["B"]:
        raise ConfigError("update.slots", "A and B must have the same slot classes")
    return result


def parse_update_settings(mapping: Mapping[str, Any]) -> UpdateSettings:
    """Validate the `[update]` table; raise ConfigError naming the first bad key."""
    if not isinstance(mapping, Mapping):
        raise ConfigError("update", "must be a table")
    for key in mapping:
        if key not in _KEYS:
            raise ConfigError(f"update.{key}", f"unknown key; known: {', '.join(sorted(_KEYS))}")
    values: dict[str, Any] = {}
    if "board" in mapping:
        board = mapping["board"]
        if not isinstance(board, str) or not _BOARD_RE.fullmatch(board):
            raise ConfigError("update.board", f"must be a board name like 'cm4', not {board!r}")
        values["board"] = board
    for key in ("keyring", "state_dir", "sim_env", "cmdline", "helper_dir"):
        if key in mapping:
            values[key] = _path(mapping, key, f"update.{key}")
    for key, choices in (
        ("bootchooser", ("uboot", "sim")),
        ("slot_writer", ("helper", "file")),
        ("helper_launcher", ("sudo", "privileged")),
    ):
        if key in mapping:
            if mapping[key] not in choices:
                raise ConfigError(
                    f"update.{key}", f"must be one of {', '.join(choices)}, not {mapping[key]!r}"
                )
            values[key] = mapping[key]
    if "allow_development" in mapping:
        if not isinstance(mapping["allow_development"], bool):
            raise ConfigError("update.allow_development", "must be true or false")
        values["allow_development"] = mapping["allow_development"]
    if "health_timeout_s" in mapping:
        timeout = mapping["health_timeout_s"]
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not (0 < timeout <= 3600)
        ):
            raise ConfigError("update.health_timeout_s", "must be a number of seconds in 1..3600")
        values["health_timeout_s"] = float(timeout)
    if "slots" in mapping:
        values["slots"] = _slots(mapping["slots"])
    return UpdateSettings(**values)
