"""A controller with the uplink, a simulated CSMS over TLS, and `ocpp`-library stations."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import ChargePoint, call, call_result

from evsite.clock import SystemClock
from evsite.config import parse_settings
from evsite.controller import Controller
from evsite.ocpp.keys import generate_key
from evsite.sim.csms import SimCsms, SimPki, handles, wait_until
from evsite.uplink.service import Uplink
from tests.integration.ocpp.conftest import basic, client_tls

UPSTREAM_PASSWORD = "upstream-secret-0123456789"


class Station(ChargePoint):  # type: ignore[misc]
    """A station that accepts what a CSMS asks of it and remembers it."""

    def __init__(self, station_id: str, connection: Any) -> None:
        super().__init__(station_id, connection, response_timeout=30)
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.sent: list[str] = []
        ids = iter(range(1, 1_000_000))
        self._unique_id_generator = lambda: f"{station_id}-{next(ids)}"

    async def _send(self, message: str) -> None:
        self.sent.append(message)
        await super()._send(message)

    @handles("RemoteStopTransaction")
    def on_remote_stop(self, transaction_id: int) -> call_result.RemoteStopTransaction:
        self.requests.append(("RemoteStopTransaction", {"transactionId": transaction_id}))
        return call_result.RemoteStopTransaction(status="Accepted")

    @handles("ChangeConfiguration")
    def on_change_configuration(self, key: str, value: str) -> call_result.ChangeConfiguration:
        self.requests.append(("ChangeConfiguration", {"key": key}))
        return call_result.ChangeConfiguration(status="Accepted")

    @handles("SendLocalList")
    def on_send_local_list(self, **payload: Any) -> call_result.SendLocalList:
        self.requests.append(("SendLocalList", payload))
        return call_result.SendLocalList(status="Accepted")

    @handles("SetChargingProfile")
    def on_set_profile(self, **payload: Any) -> call_result.SetChargingProfile:
        self.requests.append(("SetChargingProfile", payload))
        return call_result.SetChargingProfile(status="Accepted")

    @handles("DataTransfer")
    def on_data_transfer(self, vendor_id: str, **_: Any) -> call_result.DataTransfer:
        self.requests.append(("DataTransfer", {"vendorId": vendor_id}))
        return call_result.DataTransfer(status="Accepted", data="from-station")


class UplinkSite:
    """A started controller+uplink, its CSMS, and how to attach stations."""

    def __init__(
        self, controller: Controller, uplink: Uplink, port: int, csms: SimCsms, pki: SimPki
    ) -> None:
        self.controller = controller
        self.uplink = uplink
        self.port = port
        self.csms = csms
        self.pki = pki
        self.tls = client_tls(controller.data_dir)

    def enroll(self, station_id: str) -> str:
        key = generate_key()
        self.controller.stations.add(station_id, key, 2)
        self.uplink.credentials.set_password(station_id, UPSTREAM_PASSWORD)
        if self.csms.passwords is not None:
            self.csms.passwords[station_id] = UPSTREAM_PASSWORD
        return key

    @asynccontextmanager
    async def station(self, station_id: str, key: str) -> AsyncIterator[Station]:
        from websockets.asyncio.client import connect

        async with connect(
            f"wss://localhost:{self.port}/ocpp/{station_id}",
            ssl=self.tls,
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            additional_headers=basic(station_id, key),
            compression=None,
        ) as ws:
            cp = Station(station_id, ws)
            task = asyncio.create_task(cp.start())
            try:
                yield cp
            finally:
                task.cancel()

    async def online(self, identity: str) -> None:
        await wait_until(lambda: identity in self.csms.points)


def uplink_config(server: SimCsms, pki: SimPki, **extra: Any) -> dict[str, Any]:
    """Settings for a controller on port 0 relaying to the simulated CSMS."""
    uplink: dict[str, Any] = {
        "mode": "proxy",
        "csms": {"url": server.url()},
        "ca_bank": str(pki.ca),
        "upstream_timeout": 2.0,
        "replay_timeout": 5.0,
        "backoff_initial": 0.05,
        "backoff_max": 0.3,
        "connect_rate": 1000.0,
    }
    uplink.update(extra)
    return {"ocpp": {"bind": "127.0.0.1", "port": 0}, "uplink": uplink}


@pytest.fixture
def pki(tmp_path: Path) -> SimPki:
    return SimPki(tmp_path / "pki")


@pytest.fixture
async def csms(pki: SimPki) -> AsyncIterator[SimCsms]:
    cert, key = pki.issue("csms", "localhost")
    server = SimCsms(cert, key, passwords={})
    await server.start()
    yield server
    await server.stop()


SiteFactory = Callable[..., Any]


@pytest.fixture
async def make_site(
    tmp_path: Path, csms: SimCsms, pki: SimPki
) -> AsyncIterator[Callable[..., Any]]:
    started: list[tuple[Controller, Uplink]] = []

    async def make(upstream: SimCsms | None = None, **extra: Any) -> UplinkSite:
        target = upstream or csms
        settings = parse_settings(uplink_config(target, pki, **extra))
        controller = Controller(settings, tmp_path / "data", SystemClock())
        uplink = controller.uplink
        ports = await controller.start()
        assert ports.ocpp_tls
        started.append((controller, uplink))
        return UplinkSite(controller, uplink, ports.ocpp_tls, target, pki)

    yield make
    for controller, _ in started:
        await controller.stop()
        controller.db.close()


@pytest.fixture
async def site(make_site: Callable[..., Any]) -> UplinkSite:
    made: UplinkSite = await make_site()
    return made


async def boot(cp: ChargePoint) -> Any:
    return await cp.call(call.BootNotification(charge_point_vendor="Test", charge_point_model="T1"))
