"""The discovery service switched off does nothing, and its status says so."""

from __future__ import annotations

from evsite.clock import FakeClock
from evsite.discovery import Discovery, parse_discovery_settings
from tests.unit.discovery.test_recorder import Audit, MemoryStore


def service(raw: dict[str, object]) -> Discovery:
    store = MemoryStore()
    return Discovery(
        parse_discovery_settings(raw),
        hostname="evsite",
        ui_port=443,
        note_pending=store.note_pending,
        is_enrolled=store.exists,
        audit=Audit(),
        clock=FakeClock(),
    )


async def test_disabled_discovery_opens_nothing() -> None:
    discovery = service({"enabled": False})
    await discovery.start()
    status = discovery.status()
    await discovery.stop()
    assert status["enabled"] is False
    assert status["host"] is None
    assert (status["mdns"], status["ssdp"]) == ({}, {})


async def test_stop_before_start_is_harmless() -> None:
    discovery = service({})
    await discovery.stop()
    assert discovery.status()["counters"]["errors"] == 0
