"""The controller's boot check: probes the running app, then commits or reports the boot."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evsite.boot_check import start_boot_check
from evsite.clock import SystemClock
from evsite.config import parse_settings
from evsite.controller import Controller
from evsite.update.mark import Outcome
from tests.unit.update.support import new_key, write_public


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def device_config(tmp_path: Path, health_timeout_s: float) -> dict[str, Any]:
    (tmp_path / "keyring").mkdir()
    write_public(new_key(), tmp_path / "keyring" / "dev.pub")
    (tmp_path / "cmdline").write_text("root=PARTLABEL=rootfs_a evsite.slot=A\n")
    (tmp_path / "env").write_text("BOOT_ORDER=A B\nBOOT_A_LEFT=3\nBOOT_B_LEFT=3\n")
    return {
        "ocpp": {"bind": "127.0.0.1", "port": 0},
        "update": {
            "board": "qemu-arm64",
            "bootchooser": "sim",
            "slot_writer": "file",
            "keyring": str(tmp_path / "keyring"),
            "sim_env": str(tmp_path / "env"),
            "cmdline": str(tmp_path / "cmdline"),
            "health_timeout_s": health_timeout_s,
            "state_dir": str(tmp_path / "state"),
            "slots": {
                slot: {
                    kind: {"path": str(tmp_path / f"{kind}_{slot}"), "size": "1MiB"}
                    for kind in ("boot", "rootfs")
                }
                for slot in "AB"
            },
        },
    }


async def run_check(tmp_path: Path, ui_port: int, timeout: float) -> tuple[Outcome, Controller]:
    controller = Controller(
        parse_settings(device_config(tmp_path, timeout)), tmp_path / "data", SystemClock()
    )
    await controller.start()
    try:
        task = start_boot_check(controller, ui_port)
        assert task is not None
        return await asyncio.wait_for(task, 30), controller
    finally:
        await controller.stop()


async def test_a_healthy_boot_is_confirmed(tmp_path: Path, listening_port: int) -> None:
    outcome, controller = await run_check(tmp_path, listening_port, timeout=10)
    assert outcome in (Outcome.CONFIRMED, Outcome.COMMITTED)
    controller.db.close()


async def test_a_boot_whose_ui_never_listens_is_reported_unhealthy(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    outcome, controller = await run_check(tmp_path, dead_port, timeout=1.5)
    assert outcome is Outcome.UNHEALTHY
    failed = [r for r in controller.audit.records() if r.event == "update.health_failed"]
    assert failed[0].detail["failed"] == ["ui"]
    controller.db.close()


async def test_without_an_update_table_there_is_no_boot_check(tmp_path: Path) -> None:
    controller = Controller(
        parse_settings({"ocpp": {"bind": "127.0.0.1", "port": 0}}), tmp_path, SystemClock()
    )
    assert start_boot_check(controller, 443) is None
    controller.db.close()
