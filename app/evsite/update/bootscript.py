"""A Python model of exactly what the U-Boot boot script (docs/updates.md, boot.cmd) does.

Tests drive reboots through this model: it reads the variables, picks the
slot, decrements its counter, saves, and "boots" it by writing the kernel
command line the slot would get. Keep it in step with the reference script.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from evsite.update.bootchooser import BOOT_TRIES, ORDER_VAR, FileBootchooser, left_var
from evsite.update.slot import BOOTNAMES

DEFAULT_ORDER = " ".join(BOOTNAMES)


@dataclass(frozen=True)
class BootDecision:
    """What one run of the boot script did."""

    slot: str
    env: dict[str, str]
    counters_reset: bool

    @property
    def cmdline(self) -> str:
        """The kernel command line the chosen slot boots with."""
        return f"console=serial0,115200 rootwait ro evsite.slot={self.slot}"


def _left(env: Mapping[str, str], slot: str) -> int:
    # U-Boot's `test N -gt 0` on our values: a digit string, anything else counts as 0.
    value = env[left_var(slot)]
    return int(value) if value.isascii() and value.isdigit() else 0


def run_boot_script(variables: Mapping[str, str]) -> BootDecision:
    """One pass of boot.cmd over the environment; returns the slot and the saved env."""
    env = dict(variables)
    # 1. Defaults for missing variables (a fresh or lost environment tries every slot).
    if not env.get(ORDER_VAR):
        env[ORDER_VAR] = DEFAULT_ORDER
    for slot in BOOTNAMES:
        if not env.get(left_var(slot)):
            env[left_var(slot)] = str(BOOT_TRIES)
    order = [w for w in env[ORDER_VAR].split() if w in BOOTNAMES]
    if not order:
        env[ORDER_VAR] = DEFAULT_ORDER
        order = list(BOOTNAMES)
    # 2. No slot in the order has attempts left: give them all back rather than boot nothing.
    reset = not any(_left(env, s) > 0 for s in order)
    if reset:
        for slot in BOOTNAMES:
            env[left_var(slot)] = str(BOOT_TRIES)
    # 3. First slot in the order with attempts left; count the attempt before booting it.
    chosen = next(s for s in order if _left(env, s) > 0)
    env[left_var(chosen)] = str(_left(env, chosen) - 1)
    # 4. saveenv, then boot `chosen` with evsite.slot=<chosen> on its command line.
    return BootDecision(chosen, env, reset)


def simulated_reboot(env_file: Path, cmdline_file: Path) -> BootDecision:
    """Reboot the simulated device: run the script over the env file, write the cmdline."""
    store = FileBootchooser(env_file)
    decision = run_boot_script(store.read_env())
    store.write_env(decision.env)
    tmp = cmdline_file.with_name(cmdline_file.name + ".tmp")
    tmp.write_text(decision.cmdline + "\n")
    tmp.replace(cmdline_file)
    return decision
