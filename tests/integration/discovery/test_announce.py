"""The device's announcement, seen by another mDNS peer on the loopback interface."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from zeroconf import ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from evsite.discovery import Discovery
from tests.integration.discovery.conftest import LOOPBACK, until

HTTPS = "_https._tcp.local."
ONLY_ANNOUNCE = {"mdns": {"enabled": False}, "ssdp": {"enabled": False}}


class Watcher:
    """Records what a browser on the LAN sees of `_https._tcp`."""

    def __init__(self) -> None:
        self.events: list[tuple[str, ServiceStateChange]] = []

    def __call__(
        self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        self.events.append((name, state_change))

    def saw(self, name: str, change: ServiceStateChange) -> bool:
        return (name, change) in self.events


async def test_announcement_is_found_and_says_only_host_port_and_path(
    make_discovery: Callable[..., Discovery], lan: AsyncZeroconf
) -> None:
    watcher = Watcher()
    browser = AsyncServiceBrowser(lan.zeroconf, [HTTPS], handlers=[watcher])
    discovery = make_discovery(ONLY_ANNOUNCE, hostname="evsite-a", ui_port=8443)
    await discovery.start()
    name = f"evsite-a.{HTTPS}"
    await until(lambda: watcher.saw(name, ServiceStateChange.Added))

    info = AsyncServiceInfo(HTTPS, name)
    assert await info.async_request(lan.zeroconf, 3000)
    assert info.server == "evsite-a.local."
    assert info.port == 8443
    assert info.parsed_addresses() == [LOOPBACK]
    assert info.properties == {b"path": b"/"}
    assert discovery.status()["host"] == "evsite-a.local."

    await discovery.stop()
    await until(lambda: watcher.saw(name, ServiceStateChange.Removed))
    await browser.async_cancel()


async def test_second_device_with_the_same_name_renames_itself(
    make_discovery: Callable[..., Discovery], lan: AsyncZeroconf
) -> None:
    first = make_discovery(ONLY_ANNOUNCE, hostname="evsite-b")
    await first.start()
    await until(lambda: first.status()["host"] is not None)
    second = make_discovery(ONLY_ANNOUNCE, hostname="evsite-b", ui_port=9443)
    await second.start()
    await until(lambda: second.status()["host"] is not None)

    assert first.status()["host"] == "evsite-b.local."
    assert second.status()["host"] == "evsite-b-2.local."
    assert second.status()["service"] == f"evsite-b-2.{HTTPS}"
    assert second.status()["counters"]["name_conflicts"] >= 1
    info = AsyncServiceInfo(HTTPS, f"evsite-b-2.{HTTPS}")
    assert await info.async_request(lan.zeroconf, 3000)
    assert info.port == 9443
    await asyncio.gather(first.stop(), second.stop())
