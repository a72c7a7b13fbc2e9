"""An SSDP exchange with a responder on 127.0.0.1 ends as a pending enrollment."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from typing import cast

import pytest

from evsite.discovery import Discovery
from tests.integration.discovery.conftest import LOOPBACK, Store, until

CHARGER = (
    "HTTP/1.1 200 OK\r\n"
    "CACHE-CONTROL: max-age=1800\r\n"
    "LOCATION: http://127.0.0.1:49152/description.xml\r\n"
    "SERVER: Linux/5.10 UPnP/1.0 ACME-Wallbox/2.1\r\n"
    "ST: upnp:rootdevice\r\n"
    "USN: uuid:5f1c2d3e-0000-4000-8000-00000000c0de::upnp:rootdevice\r\n"
    "\r\n"
)
DEVICE_TYPE = (
    "HTTP/1.1 200 OK\r\n"
    "location: http://127.0.0.1:49152/description.xml\r\n"
    "server: Linux/5.10 UPnP/1.0 evse-os/1\r\n"
    "st: urn:schemas-upnp-org:device:EVCharger:1\r\n"
    "usn: uuid:5f1c2d3e-0000-4000-8000-00000000c0de::urn:schemas-upnp-org:device:EVCharger:1\r\n"
    "\r\n"
)
TV = (
    "HTTP/1.1 200 OK\r\n"
    "LOCATION: http://127.0.0.1:8060/\r\n"
    "SERVER: Roku/9.4 UPnP/1.0\r\n"
    "ST: urn:dial-multiscreen-org:service:dial:1\r\n"
    "USN: uuid:roku-1234::urn:dial-multiscreen-org:service:dial:1\r\n"
    "\r\n"
)


class Responder(asyncio.DatagramProtocol):
    """A UPnP device that answers every M-SEARCH with its canned responses."""

    def __init__(self, answers: list[bytes]) -> None:
        self.answers = answers
        self.searches: list[bytes] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Python 3.11's selector transport does not subclass DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.searches.append(data)
        assert self.transport is not None
        for answer in self.answers:
            self.transport.sendto(answer, addr)


@pytest.fixture
async def responder() -> AsyncIterator[tuple[Responder, int]]:
    answers = [
        CHARGER.encode(),
        DEVICE_TYPE.encode(),
        TV.encode(),
        b"\x00\xffgarbage",
        b"HTTP/1.1 200 OK\r\nST: x\r\nUSN: uuid:big\r\nX: " + b"a" * 4000 + b"\r\n\r\n",
    ]
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: Responder(answers), local_addr=(LOOPBACK, 0)
    )
    yield protocol, transport.get_extra_info("sockname")[1]
    transport.close()


def ssdp_only(port: int) -> dict[str, object]:
    return {
        "announce": {"enabled": False},
        "mdns": {"enabled": False},
        "ssdp": {"target": f"{LOOPBACK}:{port}", "source_port": 0},
    }


async def test_ssdp_answer_from_a_charger_becomes_pending(
    make_discovery: Callable[..., Discovery],
    responder: tuple[Responder, int],
    store: Store,
) -> None:
    device, port = responder
    discovery = make_discovery(ssdp_only(port))
    await discovery.start()

    uuid = "5f1c2d3e-0000-4000-8000-00000000c0de"
    await until(lambda: discovery.status()["ssdp"]["oversized"] == 1)
    await discovery.drained()
    pending = store.stations.pending()
    assert [(p.station_id, p.address, p.source) for p in pending] == [(uuid, LOOPBACK, "ssdp")]
    assert store.discovered() == [uuid]

    search = device.searches[0].decode()
    assert search.startswith("M-SEARCH * HTTP/1.1\r\n")
    assert 'MAN: "ssdp:discover"\r\n' in search
    assert "MX: 2\r\n" in search
    assert "ST: ssdp:all\r\n" in search
    ssdp = discovery.status()["ssdp"]
    assert ssdp["searches"] == 1
    assert (ssdp["candidates"], ssdp["filtered"], ssdp["malformed"]) == (2, 1, 1)
    assert discovery.status()["candidates"]["repeated"] == 1


async def test_ssdp_does_not_re_add_an_enrolled_station(
    make_discovery: Callable[..., Discovery],
    responder: tuple[Responder, int],
    store: Store,
) -> None:
    _, port = responder
    store.stations.add("5f1c2d3e-0000-4000-8000-00000000c0de", "k" * 32, 2)
    discovery = make_discovery(ssdp_only(port))
    await discovery.start()

    await until(lambda: discovery.status()["candidates"]["enrolled"] == 1)
    assert store.stations.pending() == []
    assert store.discovered() == []


async def test_busy_ssdp_port_is_counted_and_the_app_carries_on(
    make_discovery: Callable[..., Discovery], store: Store
) -> None:
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind((LOOPBACK, 0))  # no SO_REUSEADDR: nobody else may bind this port
    port = blocker.getsockname()[1]
    try:
        raw = ssdp_only(9)
        raw["ssdp"] = {"target": f"{LOOPBACK}:9", "source_port": port}
        discovery = make_discovery(raw)
        await discovery.start()
        await until(lambda: discovery.status()["ssdp"]["socket_errors"] >= 1)
        assert discovery.status()["ssdp"]["searches"] == 0
        await discovery.stop()
    finally:
        blocker.close()
