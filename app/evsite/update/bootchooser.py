"""The bootchooser: which slot U-Boot boots next, kept in RAUC's environment variables.

Variables (see docs/updates.md for the exact semantics the boot script uses):
`BOOT_ORDER` ("A B": slots to try, in order), `BOOT_A_LEFT` and `BOOT_B_LEFT`
(boot attempts left). The boot script boots the first slot in BOOT_ORDER
with attempts left and decrements its counter first; a good boot resets the
counter. Every operation here is one read and one single, atomic write of
all the variables it changes.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from evsite.update.slot import BOOTNAMES

BOOT_TRIES = 3
TRIAL_TRIES = 1
ORDER_VAR = "BOOT_ORDER"


def left_var(slot: str) -> str:
    """The try-counter variable of a slot, e.g. BOOT_A_LEFT."""
    return f"BOOT_{slot}_LEFT"


BOOT_VARS = (ORDER_VAR, *(left_var(s) for s in BOOTNAMES))


def _counter(value: str | None) -> int:
    # The boot script treats a missing counter as BOOT_TRIES and anything but a digit as 0.
    if value is None or value == "":
        return BOOT_TRIES
    return int(value) if value.isascii() and value.isdigit() else 0


@dataclass(frozen=True)
class BootState:
    """The boot order and the attempts left per slot."""

    order: tuple[str, ...]
    left: Mapping[str, int]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BootState:
        """Read the variables as the boot script does, defaults included."""
        words = [w for w in env.get(ORDER_VAR, "").split() if w in BOOTNAMES]
        order = tuple(dict.fromkeys(words)) if words else BOOTNAMES
        return cls(order, {s: _counter(env.get(left_var(s))) for s in BOOTNAMES})

    def to_env(self) -> dict[str, str]:
        """The variables to store for this state."""
        env = {ORDER_VAR: " ".join(self.order)}
        env.update({left_var(s): str(self.left[s]) for s in BOOTNAMES})
        return env

    def primary(self) -> str | None:
        """The slot the next boot will pick: first in the order with attempts left."""
        return next((s for s in self.order if self.left[s] > 0), None)

    def _with(self, slot: str, first: bool, left: int) -> BootState:
        if slot not in BOOTNAMES:
            raise ValueError(f"unknown slot {slot!r}")
        rest = tuple(s for s in self.order if s != slot)
        return BootState((slot, *rest) if first else rest, {**self.left, slot: left})

    def marked_bad(self, slot: str) -> BootState:
        """Out of the order, no attempts left."""
        return self._with(slot, first=False, left=0)

    def trial(self, slot: str) -> BootState:
        """First in the order with one attempt: a one-shot trial boot."""
        return self._with(slot, first=True, left=TRIAL_TRIES)

    def marked_good(self, slot: str) -> BootState:
        """First in the order, attempts reset: committed."""
        return self._with(slot, first=True, left=BOOT_TRIES)


class Bootchooser(Protocol):
    """Chooses the slot U-Boot boots next."""

    def get_primary(self) -> str | None:
        """The slot the next boot picks (None when no slot has attempts left)."""
        ...

    def set_trial(self, slot: str) -> None:
        """Boot `slot` next, once; without mark_good the boot after falls back."""
        ...

    def mark_good(self, slot: str) -> None:
        """Commit `slot`: first in order, attempts reset."""
        ...

    def mark_bad(self, slot: str) -> None:
        """Make `slot` unbootable."""
        ...

    def state(self) -> BootState:
        """The current order and counters."""
        ...


class EnvBootchooser:
    """The bootchooser logic over a variable store; subclasses read and write the variables."""

    def read_env(self) -> dict[str, str]:
        """Return the stored variables (only those present)."""
        raise NotImplementedError

    def write_env(self, values: Mapping[str, str]) -> None:
        """Store all these variables in one atomic write."""
        raise NotImplementedError

    def state(self) -> BootState:
        """The current order and counters."""
        return BootState.from_env(self.read_env())

    def get_primary(self) -> str | None:
        """The slot the next boot picks."""
        return self.state().primary()

    def set_trial(self, slot: str) -> None:
        """Boot `slot` next, once."""
        self.write_env(self.state().trial(slot).to_env())

    def mark_good(self, slot: str) -> None:
        """Commit `slot`."""
        self.write_env(self.state().marked_good(slot).to_env())

    def mark_bad(self, slot: str) -> None:
        """Make `slot` unbootable."""
        self.write_env(self.state().marked_bad(slot).to_env())


def parse_env_lines(text: str) -> dict[str, str]:
    """Parse `NAME=value` lines (fw_printenv's output format)."""
    env: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            env[name] = value
    return env


class FileBootchooser(EnvBootchooser):
    """Simulated backend: the same variables in a file, `NAME=value` per line.

    Writes go to a temporary file that is fsynced and renamed over the old
    one, so a power cut leaves either the old or the new variables, as
    libubootenv's redundant environment does on the device.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def read_env(self) -> dict[str, str]:
        """The variables in the file (none when it does not exist yet)."""
        try:
            return parse_env_lines(self.path.read_text())
        except FileNotFoundError:
            return {}

    def write_env(self, values: Mapping[str, str]) -> None:
        """Merge `values` into the file atomically."""
        env = {**self.read_env(), **values}
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w") as f:
            f.write("".join(f"{k}={v}\n" for k, v in sorted(env.items())))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@dataclass(frozen=True)
class CommandResult:
    """What a finished command returned."""

    returncode: int
    stdout: str
    stderr: str


CommandRunner = Callable[[Sequence[str]], CommandResult]


def run_command(argv: Sequence[str]) -> CommandResult:
    """Run a command for real (the production CommandRunner)."""
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=60, check=False)
    return CommandResult(proc.returncode, proc.stdout, proc.stderr)


class BootEnvError(RuntimeError):
    """The boot environment could not be read or written."""


class UBootBootchooser(EnvBootchooser):
    """Real backend: U-Boot's environment through libubootenv, via the privileged helpers.

    `update-get-boot` prints the BOOT_* variables as fw_printenv does;
    `update-set-boot NAME=value...` sets them in one `fw_setenv -s` write. The
    commands are given whole (e.g. `sudo -n /usr/libexec/evsite/update-get-boot`).
    """

    def __init__(
        self, run: CommandRunner, get_command: Sequence[str], set_command: Sequence[str]
    ) -> None:
        self._run = run
        self._get = list(get_command)
        self._set = list(set_command)

    def _call(self, command: list[str], args: Sequence[str]) -> str:
        result = self._run([*command, *args])
        if result.returncode != 0:
            raise BootEnvError(
                f"{' '.join(command)} failed (exit {result.returncode}): {result.stderr.strip()}"
            )
        return result.stdout

    def read_env(self) -> dict[str, str]:
        """The BOOT_* variables from the U-Boot environment."""
        env = parse_env_lines(self._call(self._get, []))
        return {k: v for k, v in env.items() if k in BOOT_VARS}

    def write_env(self, values: Mapping[str, str]) -> None:
        """Set the variables in one fw_setenv write."""
        self._call(self._set, [f"{k}={v}" for k, v in sorted(values.items())])
