"""A real SQLite store and the discovery service on the loopback interface."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from zeroconf import ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from evsite.clock import SystemClock
from evsite.discovery import Discovery, parse_discovery_settings
from evsite.store.audit import AuditLog
from evsite.store.db import Database, open_database
from evsite.store.stations import StationRepository

LOOPBACK = "127.0.0.1"


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll until predicate() holds; fail after timeout seconds."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


@dataclass
class Store:
    """The real store that discovery writes to."""

    db: Database
    stations: StationRepository
    audit: AuditLog

    def discovered(self) -> list[str]:
        return [r.actor for r in self.audit.records(event_prefix="station.discovered")]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    clock = SystemClock()
    db = open_database(tmp_path)
    yield Store(db, StationRepository(db, clock), AuditLog(db, clock))
    db.close()


@pytest.fixture
async def make_discovery(store: Store) -> AsyncIterator[Callable[..., Discovery]]:
    """Build Discovery objects bound to the loopback interface and the store."""
    made: list[Discovery] = []

    def make(raw: Mapping[str, Any], hostname: str = "evsite", ui_port: int = 8443) -> Discovery:
        settings = parse_discovery_settings({"interfaces": [LOOPBACK], **raw})
        discovery = Discovery(
            settings,
            hostname=hostname,
            ui_port=ui_port,
            note_pending=store.stations.note_pending,
            is_enrolled=store.stations.exists,
            audit=store.audit,
            clock=SystemClock(),
        )
        made.append(discovery)
        return discovery

    yield make
    for discovery in made:  # stop() is idempotent: tests may have stopped theirs already
        await discovery.stop()


@pytest.fixture
async def lan() -> AsyncIterator[AsyncZeroconf]:
    """A second mDNS responder on the loopback interface: the rest of the LAN."""
    zc = AsyncZeroconf(interfaces=[LOOPBACK])
    yield zc
    await zc.async_close()


def charger_info(
    service_type: str, instance: str, port: int, txt: Mapping[str, str], host: str
) -> ServiceInfo:
    """A station's DNS-SD announcement on 127.0.0.1."""
    return ServiceInfo(
        service_type,
        f"{instance}.{service_type}",
        port=port,
        properties=dict(txt),
        server=f"{host}.local.",
        addresses=[socket.inet_aton(LOOPBACK)],
    )
