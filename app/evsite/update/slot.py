"""Slots: the A/B partitions (plain files in tests) and the writers that fill them.

A slot is named `<class>.<bootname>`, e.g. `rootfs.B`: the class says which
payload goes in it, the bootname which side of the A/B pair (and which
bootchooser entry) it belongs to. The booted side is read from the kernel
command line, where the boot script puts `evsite.slot=<bootname>`.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from evsite.update.errors import Reason, UpdateError
from evsite.update.manifest import PAYLOAD_NAMES

BOOTNAMES = ("A", "B")
_HELPER_RESULT_RE = re.compile(r"^sha256=([0-9a-f]{64}) size=([0-9]+)$")


@dataclass(frozen=True)
class Slot:
    """One slot: `<class>.<bootname>`, where it lives, and how many bytes it holds."""

    name: str
    path: Path
    size: int

    def __post_init__(self) -> None:
        slot_class, _, bootname = self.name.partition(".")
        if slot_class not in PAYLOAD_NAMES or bootname not in BOOTNAMES:
            raise ValueError(f"slot name {self.name!r} is not <boot|rootfs>.<A|B>")
        if self.size <= 0:
            raise ValueError(f"slot {self.name}: size must be positive, not {self.size}")

    @property
    def slot_class(self) -> str:
        """Which payload the slot takes: boot or rootfs."""
        return self.name.partition(".")[0]

    @property
    def bootname(self) -> str:
        """Which side of the A/B pair: A or B."""
        return self.name.partition(".")[2]


class SlotTable:
    """All slots, by bootname and class."""

    def __init__(self, slots: Sequence[Slot]) -> None:
        self._slots: dict[str, dict[str, Slot]] = {}
        for s in slots:
            group = self._slots.setdefault(s.bootname, {})
            if s.slot_class in group:
                raise ValueError(f"slot {s.name} given twice")
            group[s.slot_class] = s

    def group(self, bootname: str) -> Mapping[str, Slot]:
        """The slots of one side, by class (empty when none)."""
        return self._slots.get(bootname, {})

    def other(self, bootname: str) -> str:
        """The bootname of the side that is not `bootname`."""
        if bootname not in BOOTNAMES:
            raise ValueError(f"unknown bootname {bootname!r}")
        return BOOTNAMES[1 - BOOTNAMES.index(bootname)]

    def all(self) -> list[Slot]:
        """Every slot, sorted by name."""
        return sorted((s for g in self._slots.values() for s in g.values()), key=lambda s: s.name)


def read_booted_slot(cmdline: Path) -> str | None:
    """The bootname in `evsite.slot=` on the kernel command line, or None."""
    try:
        words = cmdline.read_text().split()
    except FileNotFoundError:
        return None
    for word in words:
        if word.startswith("evsite.slot="):
            value = word.partition("=")[2]
            return value if value in BOOTNAMES else None
    return None


def slot_size_of(path: Path) -> int:
    """The size of a slot: a block device's size from sysfs, or a plain file's length."""
    info = path.stat()
    if stat.S_ISBLK(info.st_mode):
        dev = Path(os.path.realpath(path)).name
        return int(Path(f"/sys/class/block/{dev}/size").read_text()) * 512
    return info.st_size


class SlotSink(Protocol):
    """An open slot being written."""

    def write(self, chunk: bytes) -> None:
        """Write the next chunk."""
        ...

    def finish(self) -> str | None:
        """Flush and fsync; return the SHA-256 the writer saw, when it computes one."""
        ...

    def abort(self) -> None:
        """Give up; the slot content is undefined (it is unbootable already)."""
        ...


class SlotWriter(Protocol):
    """Opens slots for writing."""

    def open(self, slot: Slot, size: int) -> SlotSink:
        """Open `slot` to receive exactly `size` bytes from its start."""
        ...


# Flush to the device every so often while writing: the write-back then overlaps with
# reading and hashing the rest, instead of all of it waiting for one fsync at the end.
FLUSH_EVERY_BYTES = 32 * 1024 * 1024


class _FileSink:
    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        self._file = os.fdopen(fd, "wb", buffering=0)
        self._unflushed = 0

    def write(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            view = view[self._file.write(view) or 0 :]
        self._unflushed += len(chunk)
        if self._unflushed >= FLUSH_EVERY_BYTES:
            os.fdatasync(self._file.fileno())
            self._unflushed = 0

    def finish(self) -> str | None:
        os.fsync(self._file.fileno())
        self._file.close()
        return None

    def abort(self) -> None:
        self._file.close()


class FileSlotWriter:
    """Writes slots directly (plain files in tests and the simulator; root-owned devices need
    the helper)."""

    def open(self, slot: Slot, size: int) -> SlotSink:
        """Open the slot's path for writing from offset 0."""
        try:
            return _FileSink(slot.path)
        except OSError as exc:
            raise UpdateError(Reason.WRITE_FAILED, f"cannot open {slot.name}: {exc}") from None


class _HelperSink:
    def __init__(self, argv: list[str], slot: Slot, size: int) -> None:
        self._slot = slot
        self._size = size
        self._proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert self._proc.stdin is not None
        self._stdin: IO[bytes] = self._proc.stdin

    def write(self, chunk: bytes) -> None:
        try:
            self._stdin.write(chunk)
        except BrokenPipeError:
            _, err = self._proc.communicate()
            raise UpdateError(
                Reason.WRITE_FAILED,
                f"{self._slot.name}: helper stopped: {err.decode(errors='replace')}",
            ) from None

    def finish(self) -> str | None:
        out, err = self._proc.communicate()
        text = out.decode(errors="replace").strip()
        match = _HELPER_RESULT_RE.fullmatch(text)
        if self._proc.returncode != 0 or match is None:
            raise UpdateError(
                Reason.WRITE_FAILED,
                f"{self._slot.name}: helper failed (exit {self._proc.returncode}): "
                f"{err.decode(errors='replace').strip() or text}",
            )
        if int(match.group(2)) != self._size:
            raise UpdateError(
                Reason.WRITE_FAILED,
                f"{self._slot.name}: helper wrote {match.group(2)} bytes, expected {self._size}",
            )
        return match.group(1)

    def abort(self) -> None:
        self._proc.kill()
        self._proc.communicate()


class HelperSlotWriter:
    """Writes slots through the privileged `update-write-slot` helper (via `sudo -n`).

    The helper takes only the bootname, class and size, never a path, so the
    app's sudo rule cannot be turned into writing an arbitrary device.
    """

    def __init__(self, command: Sequence[str]) -> None:
        self._command = list(command)

    def open(self, slot: Slot, size: int) -> SlotSink:
        """Start the helper for this slot; stream the payload to its stdin."""
        argv = [*self._command, slot.bootname, slot.slot_class, str(size)]
        try:
            return _HelperSink(argv, slot, size)
        except OSError as exc:
            raise UpdateError(Reason.WRITE_FAILED, f"cannot start {argv[0]}: {exc}") from None
