"""Stations announced over DNS-SD on the loopback interface end up as pending enrollments."""

from __future__ import annotations

from collections.abc import Callable

from zeroconf.asyncio import AsyncZeroconf

from evsite.discovery import Discovery
from tests.integration.discovery.conftest import LOOPBACK, Store, charger_info, until

ONLY_MDNS = {"announce": {"enabled": False}, "ssdp": {"enabled": False}}


async def test_ocpp_service_becomes_pending_under_its_txt_id(
    make_discovery: Callable[..., Discovery], lan: AsyncZeroconf, store: Store
) -> None:
    charger = charger_info(
        "_ocpp._tcp.local.", "Wallbox Garage", 8080, {"id": "CP-0042", "vendor": "x"}, "wb-1"
    )
    await lan.async_register_service(charger)
    discovery = make_discovery(ONLY_MDNS)
    await discovery.start()

    await until(lambda: store.stations.get_pending("CP-0042") is not None)
    pending = store.stations.get_pending("CP-0042")
    assert pending is not None
    assert (pending.address, pending.source) == (LOOPBACK, "mdns")
    await discovery.drained()
    assert store.discovered() == ["CP-0042"]
    assert discovery.status()["candidates"]["pending_new"] == 1


async def test_http_services_need_a_charger_name_and_instance_name_is_the_fallback_id(
    make_discovery: Callable[..., Discovery], lan: AsyncZeroconf, store: Store
) -> None:
    printer = charger_info("_http._tcp.local.", "Office Printer", 80, {}, "printer")
    charger = charger_info("_http._tcp.local.", "openevse-7f2a", 80, {"path": "/"}, "openevse")
    for info in (printer, charger):
        await lan.async_register_service(info)
    discovery = make_discovery(ONLY_MDNS)
    await discovery.start()

    await until(lambda: store.stations.get_pending("openevse-7f2a") is not None)
    await until(lambda: discovery.status()["mdns"]["filtered"] >= 1)
    await discovery.drained()
    assert [p.station_id for p in store.stations.pending()] == ["openevse-7f2a"]


async def test_enrolled_station_is_not_added_again(
    make_discovery: Callable[..., Discovery], lan: AsyncZeroconf, store: Store
) -> None:
    store.stations.add("CP-0007", "k" * 32, 2)
    await lan.async_register_service(
        charger_info("_ocpp-cp._tcp.local.", "Bay 7", 443, {"cbid": "CP-0007"}, "bay7")
    )
    discovery = make_discovery(ONLY_MDNS)
    await discovery.start()

    await until(lambda: discovery.status()["candidates"]["enrolled"] == 1)
    assert store.stations.pending() == []
    assert store.discovered() == []
