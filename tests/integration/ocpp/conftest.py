"""A running controller on 127.0.0.1 and stations built with the ocpp library."""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import ChargePoint, call
from websockets.asyncio.client import ClientConnection, connect

from evsite.clock import SystemClock, iso_utc
from evsite.config import parse_settings
from evsite.controller import Controller, ocpp_tls_paths
from evsite.ocpp.keys import generate_key


def client_tls(data_dir: Path) -> ssl.SSLContext:
    """Trust the controller's self-signed OCPP certificate."""
    cert, _ = ocpp_tls_paths(data_dir)
    context = ssl.create_default_context(cafile=str(cert))
    return context


def basic(station_id: str, key: str) -> dict[str, str]:
    """An Authorization header."""
    token = base64.b64encode(f"{station_id}:{key}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class Site:
    """A started controller and how to reach it."""

    def __init__(self, controller: Controller, port: int) -> None:
        self.controller = controller
        self.port = port
        self.url = f"wss://localhost:{port}/ocpp"
        self.tls = client_tls(controller.data_dir)

    def enroll(self, station_id: str, profile: int = 2) -> str:
        key = generate_key()
        self.controller.stations.add(station_id, key, profile)
        return key

    def raw(self, station_id: str, key: str | None, **kwargs: Any) -> Any:
        kwargs.setdefault("additional_headers", basic(station_id, key) if key else {})
        kwargs.setdefault("subprotocols", ["ocpp1.6"])
        return connect(f"{self.url}/{station_id}", ssl=self.tls, compression=None, **kwargs)

    @asynccontextmanager
    async def station(
        self, station_id: str, key: str, cls: type[ChargePoint] = ChargePoint
    ) -> AsyncIterator[ChargePoint]:
        async with self.raw(station_id, key) as ws:
            cp = cls(station_id, ws, response_timeout=10)
            task = asyncio.create_task(cp.start())
            try:
                yield cp
            finally:
                task.cancel()


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    settings = parse_settings({"ocpp": {"bind": "127.0.0.1", "port": 0}})
    controller = Controller(settings, tmp_path, SystemClock())
    ports = await controller.start()
    assert ports.ocpp_tls
    yield Site(controller, ports.ocpp_tls)
    await controller.stop()
    controller.db.close()


async def boot(cp: ChargePoint) -> Any:
    """Send a BootNotification."""
    return await cp.call(call.BootNotification(charge_point_vendor="Test", charge_point_model="T1"))


def now() -> str:
    """An OCPP timestamp for now."""
    return iso_utc(SystemClock().now())


async def raw_exchange(ws: ClientConnection, frame: str) -> list[Any]:
    """Send one raw frame and return the parsed answer."""
    import json

    await ws.send(frame)
    answer: list[Any] = json.loads(await asyncio.wait_for(ws.recv(), 5))
    return answer
