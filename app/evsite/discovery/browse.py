"""Stations found over mDNS/DNS-SD: browse service types, resolve, filter, offer candidates.

Resolving costs a query per service, so names wait in a bounded queue and a
few resolver tasks work through it; a LAN full of `_http._tcp` printers can
delay discovery, never exhaust memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from zeroconf import IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from evsite.discovery.candidates import (
    Candidate,
    decode_txt,
    matches_any,
    mdns_instance,
    mdns_station_id,
)
from evsite.discovery.counters import Counters
from evsite.discovery.settings import MdnsSettings

log = logging.getLogger("evsite.discovery")
QUEUE_SIZE = 256
RESOLVERS = 4


class StationBrowser:
    """Browses the configured types on a shared zeroconf instance."""

    def __init__(
        self,
        zc: AsyncZeroconf,
        settings: MdnsSettings,
        offer: Callable[[Candidate], None],
        own_names: Callable[[], set[str]],
    ) -> None:
        self._zc = zc
        self._settings = settings
        self._offer = offer
        self._own_names = own_names
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue(QUEUE_SIZE)
        self._queued: set[tuple[str, str]] = set()
        self._browser: AsyncServiceBrowser | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.counters = Counters(
            "seen", "resolved", "unresolved", "filtered", "candidates", "dropped", "errors"
        )

    def start(self) -> None:
        """Start browsing (on the running loop)."""
        types = [*self._settings.types, *self._settings.filtered_types]
        if not types or self._browser is not None:
            return
        self._tasks = [
            asyncio.create_task(self._resolve_loop(), name=f"discovery-resolve-{n}")
            for n in range(RESOLVERS)
        ]
        self._browser = AsyncServiceBrowser(self._zc.zeroconf, types, handlers=[self._on_change])

    async def stop(self) -> None:
        """Stop browsing and resolving."""
        if self._browser is not None:
            await self._browser.async_cancel()
            self._browser = None
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def _on_change(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        # zeroconf calls handlers by keyword: the parameter names are part of the contract.
        if state_change is ServiceStateChange.Removed:
            return
        self.counters.inc("seen")
        key = (service_type, name)
        if key in self._queued:
            return
        try:
            self._queue.put_nowait(key)
        except asyncio.QueueFull:
            self.counters.inc("dropped")
            return
        self._queued.add(key)

    async def _resolve_loop(self) -> None:
        while True:
            service_type, name = await self._queue.get()
            try:
                await self._resolve(service_type, name)
            except Exception:
                self.counters.inc("errors")
                log.exception("resolving %r failed", name)
            finally:
                self._queued.discard((service_type, name))

    async def _resolve(self, service_type: str, name: str) -> None:
        if name in self._own_names():
            return
        info = AsyncServiceInfo(service_type, name)
        timeout_ms = int(self._settings.resolve_timeout_s * 1000)
        if not await info.async_request(self._zc.zeroconf, timeout_ms):
            self.counters.inc("unresolved")
            return
        addresses = info.parsed_addresses(IPVersion.V4Only) or info.parsed_addresses()
        if not addresses:
            self.counters.inc("unresolved")
            return
        self.counters.inc("resolved")
        instance = mdns_instance(name, service_type)
        txt = decode_txt(info.properties)
        host = (info.server or "").removesuffix(".").removesuffix(".local")
        if service_type not in self._settings.types and not matches_any(
            self._settings.patterns, [instance, host, *(f"{k}={v}" for k, v in txt.items())]
        ):
            self.counters.inc("filtered")
            return
        station_id = mdns_station_id(instance, txt)
        if station_id is None:
            self.counters.inc("unresolved")
            return
        self.counters.inc("candidates")
        self._offer(
            Candidate(
                station_id,
                addresses[0],
                "mdns",
                {"service": name[:200], "host": host[:100]},
            )
        )
