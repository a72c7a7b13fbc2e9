"""Two linked pseudo-terminals made by socat: a null-modem cable for RTU without hardware."""

from __future__ import annotations

import asyncio
import shutil
import signal
import time
from pathlib import Path


class PtyPairError(RuntimeError):
    """socat is missing or did not create both ends in time."""


class PtyPair:
    """`socat pty,raw,echo=0,link=A pty,raw,echo=0,link=B`, started and stopped explicitly."""

    def __init__(self, directory: Path, *, name: str = "tty") -> None:
        self.a = directory / f"{name}-a"
        self.b = directory / f"{name}-b"
        self._proc: asyncio.subprocess.Process | None = None

    @staticmethod
    def available() -> bool:
        """True when the socat executable is on PATH."""
        return shutil.which("socat") is not None

    async def start(self, timeout_s: float = 5.0) -> None:
        """Start socat and wait until both links exist."""
        exe = shutil.which("socat")
        if exe is None:
            raise PtyPairError("socat not found (Debian package: socat)")
        self._proc = await asyncio.create_subprocess_exec(
            exe,
            "-d",
            "-d",
            f"pty,raw,echo=0,link={self.a}",
            f"pty,raw,echo=0,link={self.b}",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        while not (self.a.exists() and self.b.exists()):
            if self._proc.returncode is not None:
                raise PtyPairError(f"socat exited with {self._proc.returncode}")
            if time.monotonic() > deadline:
                await self.stop()
                raise PtyPairError("socat did not create the pty links in time")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Terminate socat (only the process this object started)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 5.0)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        # socat removes its links on SIGTERM; this covers a killed socat.
        for link in (self.a, self.b):
            link.unlink(missing_ok=True)
