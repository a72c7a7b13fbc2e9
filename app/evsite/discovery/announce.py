"""The device's own announcement: `<host>.local` and an `_https._tcp` service for the web UI.

Nothing about the device beyond its name and port is announced: no version,
serial or model (TXT carries `path=/` only), so that a scan of the LAN learns
no more than that an evsite is there.

Name conflicts (a second evsite on the LAN) are settled before registering:
the host name is looked up first, and the service is registered with
zeroconf's uniqueness probe; either one being taken moves both to the next
name, `evsite-2`, `evsite-3`, ... the numbering zeroconf itself uses.
"""

from __future__ import annotations

import logging
import socket

from zeroconf import (  # type: ignore[attr-defined]  # exported, though not in __all__
    AddressResolverIPv4,
    NonUniqueNameException,
    ServiceInfo,
)
from zeroconf.asyncio import AsyncZeroconf

from evsite.discovery.counters import Counters

log = logging.getLogger("evsite.discovery")
SERVICE_TYPE = "_https._tcp.local."
MAX_NAMES = 20
HOST_PROBE_MS = 1000
MAX_LABEL = 63


def name_for(hostname: str, attempt: int) -> str:
    """The host label of a naming attempt: `evsite`, then `evsite-2`, `evsite-3`, ..."""
    if attempt == 1:
        return hostname[:MAX_LABEL]
    suffix = f"-{attempt}"
    return hostname[: MAX_LABEL - len(suffix)] + suffix


class Announcer:
    """Registers, refreshes and withdraws the device's mDNS records."""

    def __init__(
        self,
        zc: AsyncZeroconf,
        hostname: str,
        port: int,
        counters: Counters,
        host_probe_ms: int = HOST_PROBE_MS,
    ) -> None:
        self._zc = zc
        self._hostname = hostname
        self._port = port
        self._counters = counters
        self._host_probe_ms = host_probe_ms
        self._info: ServiceInfo | None = None
        self._addresses: list[str] = []

    @property
    def host(self) -> str | None:
        """The announced host name (`evsite.local.`), None until announced."""
        return self._info.server if self._info else None

    @property
    def service(self) -> str | None:
        """The announced service instance name, None until announced."""
        return self._info.name if self._info else None

    async def announce(self, addresses: list[str]) -> bool:
        """Register under the first free name; False if none was free or nothing to announce."""
        if not addresses:
            return False
        for attempt in range(1, MAX_NAMES + 1):
            label = name_for(self._hostname, attempt)
            if await self._host_taken(label):
                self._conflict(label, "host name answered by another device")
                continue
            info = ServiceInfo(
                SERVICE_TYPE,
                f"{label}.{SERVICE_TYPE}",
                port=self._port,
                properties={"path": "/"},
                server=f"{label}.local.",
                addresses=[socket.inet_aton(a) for a in addresses],
            )
            try:
                broadcast = await self._zc.async_register_service(info, allow_name_change=False)
            except NonUniqueNameException:
                self._conflict(label, "service name taken")
                continue
            # Registered (and withdrawn by stop()) from here on, while the announcements go out.
            self._info = info
            self._addresses = list(addresses)
            await broadcast
            self._counters.inc("announced")
            log.info("announced %s (%s) on %s", info.server, info.name, ", ".join(addresses))
            return True
        self._counters.inc("errors")
        log.error("no free mDNS name among %s..%s", self._hostname, name_for(self._hostname, 20))
        return False

    def _conflict(self, label: str, why: str) -> None:
        self._counters.inc("name_conflicts")
        log.warning("mDNS name %s.local is in use on the LAN (%s); trying the next", label, why)

    async def _host_taken(self, label: str) -> bool:
        resolver = AddressResolverIPv4(f"{label}.local.")
        return bool(await resolver.async_request(self._zc.zeroconf, self._host_probe_ms))

    async def update(self, addresses: list[str]) -> None:
        """Announce new addresses (an interface came up, a lease changed)."""
        if self._info is None:
            await self.announce(addresses)
            return
        if addresses == self._addresses or not addresses:
            return
        self._info.addresses = [socket.inet_aton(a) for a in addresses]
        await (await self._zc.async_update_service(self._info))
        self._addresses = list(addresses)
        log.info("mDNS addresses now %s", ", ".join(addresses))

    async def withdraw(self) -> None:
        """Send goodbyes for the announcement."""
        if self._info is not None:
            info, self._info = self._info, None
            await (await self._zc.async_unregister_service(info))
            log.info("withdrew %s", info.server)
