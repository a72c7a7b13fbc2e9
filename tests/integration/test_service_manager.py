"""`evsite run` under systemd's eyes: READY=1 once everything listens, then WATCHDOG=1
from the event loop, STOPPING=1 on SIGTERM — over a real notify socket."""

from __future__ import annotations

import asyncio
import socket
import ssl
from pathlib import Path

import pytest

from evsite.service_manager import notify, watchdog_interval
from tests.integration.evsite_process import EvsiteProcess

CONFIG = """
[web]
host = "127.0.0.1"
port = 0
redirect_port = 0

[discovery]
enabled = false
"""


class NotifySocket:
    """The receiving end of sd_notify, as systemd holds it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)

    async def next(self, timeout_s: float = 30.0) -> str:
        """The next message."""
        loop = asyncio.get_running_loop()
        data = await asyncio.wait_for(loop.sock_recv(self.sock, 4096), timeout_s)
        return data.decode()

    def close(self) -> None:
        """Stop listening."""
        self.sock.close()


def ui_port(log: list[str]) -> int:
    """The UI port from the controller's log line."""
    line = next(line for line in log if "web UI: https://" in line)
    return int(line.rsplit(":", 1)[1].strip().rstrip("/"))


async def test_ready_after_everything_listens_then_watchdog_then_stopping(tmp_path: Path) -> None:
    config = tmp_path / "evsite.toml"
    config.write_text(CONFIG)
    notify_socket = NotifySocket(tmp_path / "notify.sock")
    env = {"NOTIFY_SOCKET": str(notify_socket.path), "WATCHDOG_USEC": "1000000"}
    controller = await EvsiteProcess.start(tmp_path / "data", config=config, env=env)
    try:
        assert await notify_socket.next() == "READY=1"
        # READY means ready: the UI already answers TLS on its port.
        port = ui_port(controller.log)
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
        writer.close()
        # Half the watchdog timeout apart: at least three within two seconds or so.
        pings = [await notify_socket.next(timeout_s=5) for _ in range(3)]
        assert pings == ["WATCHDOG=1"] * 3
        assert await controller.stop() == 0
        rest = []
        while True:
            try:
                rest.append(await notify_socket.next(timeout_s=1))
            except TimeoutError:
                break
        assert "STOPPING=1" in rest
    finally:
        if controller.process.returncode is None:
            await controller.kill()
        notify_socket.close()


def test_outside_systemd_nothing_is_sent_and_no_watchdog_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert notify("READY=1") is False
    assert watchdog_interval() is None


def test_a_watchdog_meant_for_another_process_is_not_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", "1")
    assert watchdog_interval() is None
    monkeypatch.delenv("WATCHDOG_PID")
    assert watchdog_interval() == 15.0
