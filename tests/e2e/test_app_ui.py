"""The whole app as a newcomer meets it: `evsite sim` as a process, its real UI over HTTPS.

Setup with the printed secret, log in, see the simulated stations live, approve
a station that really tried to connect, and stop a session with a remote command.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from ocpp.v16 import ChargePoint
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from evsite.web.certs import CERT_FILE
from evsite.web.service import CERT_DIR
from tests.integration.ocpp.conftest import basic, boot, client_tls
from tests.integration.web.conftest import HttpsClient

T = TypeVar("T")
ADMIN = "installer"
PASSWORD = "Copper-Meadow-Signal-42"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
SUBPROTOCOL = Subprotocol("ocpp1.6")
_NEW_KEY = re.compile(r'id="new-key">([^<]+)<')


@dataclass
class SimApp:
    """A running `evsite sim` process and what its banner said."""

    process: subprocess.Popen[str]
    data_dir: Path
    ui_port: int
    ocpp_port: int
    secret: str
    banner: str

    def client(self) -> HttpsClient:
        """An HTTPS client that trusts this device's own certificate."""
        return HttpsClient(self.ui_port, self.data_dir / CERT_DIR / CERT_FILE)

    def stop(self) -> str:
        """Ctrl-C, as a person stops it; return the rest of its output."""
        self.process.send_signal(signal.SIGINT)
        rest, _ = self.process.communicate(timeout=30)
        return rest


def start_sim(data_dir: Path, stations: int) -> SimApp:
    """Start `evsite sim` on free ports and read its banner."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "evsite",
            "sim",
            "--stations",
            str(stations),
            "--ocpp-port",
            "0",
            "--ui-port",
            "0",
            "--bind",
            "127.0.0.1",
            "--data-dir",
            str(data_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            process.kill()
            raise AssertionError("evsite sim exited early:\n" + "".join(lines))
        lines.append(line)
        if "stop with Ctrl-C" in line:
            break
    banner = "".join(lines)
    ui = re.search(r"web UI: +https://127\.0\.0\.1:(\d+)/", banner)
    ocpp = re.search(r"OCPP stations: +wss://127\.0\.0\.1:(\d+)/", banner)
    secret = re.search(r"setup secret: (\S+)", banner)
    assert ui and ocpp and secret, banner
    return SimApp(process, data_dir, int(ui[1]), int(ocpp[1]), secret[1], banner)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[SimApp]:
    """Two simulated stations behind the real app; always stopped, even on failure."""
    sim = start_sim(tmp_path, 2)
    try:
        yield sim
    finally:
        if sim.process.poll() is None:
            sim.process.kill()
            sim.process.wait()


def until(predicate: Callable[[], T | None], what: str, seconds: float = 30) -> T:
    """Poll (never a fixed sleep) until predicate returns something truthy."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def set_up_and_log_in(app: SimApp, c: HttpsClient) -> str:
    """First access with the printed secret, then log in; return the CSRF token."""
    assert c.get("/").location == "/setup"
    reply = c.post(
        "/setup",
        {"secret": app.secret, "username": ADMIN, "password": PASSWORD, "password2": PASSWORD},
    )
    assert reply.status == 303, reply.text
    assert c.post("/login", {"username": ADMIN, "password": PASSWORD}).status == 303
    match = _CSRF.search(c.get("/account").text)
    assert match
    return match[1]


def live(c: HttpsClient) -> dict[str, Any]:
    reply = c.get("/ui/site/live.json")
    assert reply.status == 200
    body: dict[str, Any] = json.loads(reply.body)
    return body


def knock_and_then_connect(app: SimApp, station_id: str, key: str | None) -> Any:
    """Connect as an OCPP station; without its key the attempt is refused (and noted)."""
    url = f"wss://localhost:{app.ocpp_port}/ocpp/{station_id}"
    headers = basic(station_id, key or "not-a-known-key-000")

    async def attempt() -> Any:
        ws = connect(
            url,
            ssl=client_tls(app.data_dir),
            subprotocols=[SUBPROTOCOL],
            additional_headers=headers,
        )
        if key is None:
            with pytest.raises(InvalidStatus) as refused:
                async with ws:
                    pass
            return refused.value.response.status_code
        async with ws as connection:
            cp = ChargePoint(station_id, connection, response_timeout=10)
            task = asyncio.create_task(cp.start())
            try:
                return (await boot(cp)).status
            finally:
                task.cancel()

    return asyncio.run(attempt())


def test_sim_serves_the_real_ui_from_setup_to_stopping_a_session(app: SimApp) -> None:
    c = app.client()
    csrf = set_up_and_log_in(app, c)

    def stations_ready() -> dict[str, Any] | None:
        body = live(c)
        stations = {s["id"]: s for s in body.get("stations", [])}
        ready = len(stations) == 2 and all(
            s["connected"] and s["limit_a"] is not None and s["binding_constraint"]
            for s in stations.values()
        )
        return stations if ready else None

    stations = until(stations_ready, "both simulated stations online with limits")
    assert sorted(stations) == ["sim-001", "sim-002"]
    body = live(c)
    assert body["station_count"] == 2
    assert [p["limit_a"] for p in body["phases"]] == [80, 80, 80]
    assert body["site_limit"]["source"] == "configured"

    # A station nobody enrolled knocks; it shows as pending and is approved in the UI.
    assert knock_and_then_connect(app, "NEWCOMER", None) == 404
    assert "NEWCOMER" in c.get("/stations").text
    approved = c.post("/stations/NEWCOMER/approve", {"csrf": csrf})
    assert approved.status == 200, approved.text
    key = _NEW_KEY.search(approved.text)
    assert key, approved.text
    assert knock_and_then_connect(app, "NEWCOMER", key[1]) == "Accepted"

    # Start a session on an idle station (or find one running), then stop it from the UI.
    def running() -> tuple[str, int] | None:
        for s in live(c)["stations"]:
            for connector in s["connectors"]:
                if s["id"].startswith("sim-") and connector["transaction_id"]:
                    return s["id"], connector["transaction_id"]
        return None

    if running() is None:
        started = c.post(
            "/stations/sim-001/command",
            {"csrf": csrf, "command": "start", "connector": "1", "id_tag": "SIMCAR001"},
        )
        assert started.status in (200, 502), started.text
    station_id, tx = until(running, "a charging session")
    stopped = c.post(
        f"/stations/{station_id}/command", {"csrf": csrf, "command": "stop", "transaction": str(tx)}
    )
    assert stopped.status == 200 and "stop: Accepted" in stopped.text, stopped.text
    until(
        lambda: all(
            conn["transaction_id"] != tx for s in live(c)["stations"] for conn in s["connectors"]
        ),
        "the session to end",
    )
    sessions = c.get(f"/sessions?station={station_id}").text
    assert str(tx) in sessions

    rest = app.stop()
    assert app.process.returncode == 0, rest
    assert "evsite sim stopped." in rest
    assert "Traceback" not in app.banner + rest
