"""Running the device's privileged helpers: `DIR/privileged NAME ARGS` or `sudo -n DIR/NAME ARGS`.

The helpers (image/, rootfs-overlay/usr/libexec/evsite) are small root programs that
each do one job; the app itself holds no privilege and only asks them.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

Launcher = Literal["sudo", "privileged"]
LAUNCHERS: tuple[Launcher, ...] = ("sudo", "privileged")
DEFAULT_HELPER_DIR = Path("/usr/libexec/evsite")
HELPER_TIMEOUT_S = 60.0


class HelperError(Exception):
    """A helper could not be started, failed or timed out; the message says which and why."""


def helper_command(helper_dir: Path, launcher: Launcher, name: str) -> list[str]:
    """The command line that runs helper `name` through the launcher."""
    if launcher == "privileged":
        return [str(helper_dir / "privileged"), name]
    return ["sudo", "-n", str(helper_dir / name)]


def run_helper(
    command: Sequence[str],
    args: Sequence[str] = (),
    *,
    stdin: bytes = b"",
    timeout_s: float = HELPER_TIMEOUT_S,
) -> str:
    """Run a helper to its end and return its standard output; HelperError if it failed."""
    name = Path(command[-1]).name
    try:
        done = subprocess.run(
            [*command, *args], input=stdin, capture_output=True, timeout=timeout_s, check=False
        )
    except FileNotFoundError:
        raise HelperError(f"helper {name}: {command[0]} does not exist") from None
    except subprocess.TimeoutExpired:
        raise HelperError(f"helper {name}: no answer within {timeout_s:.0f} s") from None
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip().splitlines()
        last = why[-1] if why else "no message"
        raise HelperError(f"helper {name} failed (exit {done.returncode}): {last}")
    return done.stdout.decode(errors="replace")
