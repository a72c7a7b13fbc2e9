"""`python -m evsite run` as a child process, for tests that kill, restart or watch it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

PORT_LINE = re.compile(r"OCPP wss listening on [\d.]+:(\d+)")
START_TIMEOUT_S = 30.0


class EvsiteProcess:
    """A running controller: its process, its OCPP port, its log read on so it never stalls."""

    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process = process
        self.port = port
        self.log: list[str] = []
        assert process.stderr is not None
        self._drain = asyncio.create_task(self._read_log(process.stderr))

    @classmethod
    async def start(
        cls,
        data_dir: Path,
        *,
        config: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> EvsiteProcess:
        """Start it on 127.0.0.1 with a free OCPP port; return once OCPP listens."""
        args = ["--data-dir", str(data_dir), "--bind", "127.0.0.1", "--ocpp-port", "0"]
        if config is not None:
            args += ["--config", str(config)]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "evsite",
            "run",
            *args,
            stderr=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            env=None if env is None else {**os.environ, **env},
        )
        assert process.stderr is not None
        seen: list[str] = []
        while True:
            line = (await asyncio.wait_for(process.stderr.readline(), START_TIMEOUT_S)).decode()
            assert line, "evsite exited before listening:\n" + "".join(seen)
            seen.append(line)
            match = PORT_LINE.search(line)
            if match:
                started = cls(process, int(match.group(1)))
                started.log += seen
                return started

    async def _read_log(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.log.append(line.decode(errors="replace"))

    def kill_now(self) -> None:
        """SIGKILL, as a power cut takes it (returns at once)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGKILL)

    async def kill(self) -> None:
        """SIGKILL and wait for it to be gone."""
        self.kill_now()
        await self.process.wait()
        await self._drain

    async def stop(self) -> int:
        """SIGTERM, as systemd stops it; its exit status."""
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.process.wait(), START_TIMEOUT_S)
        await self._drain
        return code
