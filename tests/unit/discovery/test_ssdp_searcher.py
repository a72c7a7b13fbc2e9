"""What the SSDP searcher does with each datagram: window, rate limit, size, filter."""

from __future__ import annotations

import pytest

from evsite.clock import FakeClock
from evsite.discovery.candidates import Candidate
from evsite.discovery.settings import SsdpSettings, parse_discovery_settings
from evsite.discovery.ssdp import SsdpSearcher, TokenBucket, wanted
from evsite.discovery.ssdp_message import parse_response


def answer(
    server: str = "Linux UPnP/1.0 Wallbox/5", st: str = "upnp:rootdevice", n: int = 1
) -> bytes:
    return (
        f"HTTP/1.1 200 OK\r\nSERVER: {server}\r\nST: {st}\r\n"
        f"USN: uuid:dev-{n}::{st}\r\nLOCATION: http://10.0.0.{n}/d.xml\r\n\r\n"
    ).encode()


class Harness:
    """A searcher without sockets (no LAN address), fed datagrams by hand."""

    def __init__(self, settings: SsdpSettings | None = None) -> None:
        self.clock = FakeClock()
        self.offered: list[Candidate] = []
        self.searcher = SsdpSearcher(
            settings or SsdpSettings(), lambda: [], self.offered.append, self.clock
        )

    async def open_window(self) -> None:
        await self.searcher.search()

    def count(self, name: str) -> int:
        return self.searcher.counters[name]


async def test_answer_in_the_window_becomes_a_candidate_from_the_sender() -> None:
    h = Harness()
    await h.open_window()
    h.searcher.handle_datagram(answer(), "10.0.0.1")
    assert [(c.station_id, c.address, c.source) for c in h.offered] == [
        ("dev-1", "10.0.0.1", "ssdp")
    ]
    assert h.offered[0].detail["server"] == "Linux UPnP/1.0 Wallbox/5"


async def test_answers_outside_the_search_window_are_dropped() -> None:
    h = Harness()
    h.searcher.handle_datagram(answer(), "10.0.0.1")  # before any search
    await h.open_window()
    h.clock.advance(2 + 1.5)  # MX 2 plus more than the grace second
    h.searcher.handle_datagram(answer(), "10.0.0.1")
    assert h.offered == []
    assert h.count("outside_window") == 2


async def test_flood_is_rate_limited() -> None:
    h = Harness(parse_discovery_settings({"ssdp": {"max_responses_per_s": 10}}).ssdp)
    await h.open_window()
    for n in range(100):
        h.searcher.handle_datagram(answer(n=n), "10.0.0.1")
    assert len(h.offered) == 10
    assert h.count("rate_limited") == 90
    h.clock.advance(0.5)
    h.searcher.handle_datagram(answer(n=200), "10.0.0.1")
    assert len(h.offered) == 11


async def test_bad_datagrams_are_counted_by_kind() -> None:
    h = Harness()
    await h.open_window()
    h.searcher.handle_datagram(b"\x16\x03\x01garbage", "10.0.0.1")
    h.searcher.handle_datagram(answer() + b"X" * 3000, "10.0.0.1")
    h.searcher.handle_datagram(b"NOTIFY * HTTP/1.1\r\nNT: x\r\n\r\n", "10.0.0.1")
    h.searcher.handle_datagram(answer(server="Roku/9 UPnP/1.0"), "10.0.0.1")
    assert h.offered == []
    assert (h.count("malformed"), h.count("oversized"), h.count("not_responses")) == (1, 1, 1)
    assert (h.count("responses"), h.count("filtered")) == (1, 1)


@pytest.mark.parametrize(
    ("server", "st", "usn", "expected"),
    [
        ("Linux UPnP/1.0 Wallbox/5", "upnp:rootdevice", "uuid:1", True),
        ("Linux UPnP/1.0 OpenEVSE/4", "upnp:rootdevice", "uuid:1", True),
        ("Linux", "urn:schemas-upnp-org:device:EVCharger:1", "uuid:1", True),
        ("Linux", "upnp:rootdevice", "uuid:1::urn:schemas-acme-com:device:Charger:2", True),
        ("Roku/9 UPnP/1.0", "urn:dial-multiscreen-org:service:dial:1", "uuid:1", False),
        ("Linux", "urn:schemas-upnp-org:service:ChargeControl:1", "uuid:1", False),
    ],
)
def test_default_filter_keeps_chargers_only(server: str, st: str, usn: str, expected: bool) -> None:
    data = f"HTTP/1.1 200 OK\r\nSERVER: {server}\r\nST: {st}\r\nUSN: {usn}\r\n\r\n".encode()
    assert wanted(parse_response(data, 2048), SsdpSettings()) is expected


def test_token_bucket_refills_with_time() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2.0, clock)
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    clock.advance(0.5)
    assert bucket.take()
    assert not bucket.take()
