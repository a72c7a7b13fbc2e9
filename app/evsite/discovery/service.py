"""The discovery service: announcement, mDNS browsing and SSDP search on the app's loop.

Nothing here may take the app down: every part is started and stopped on its
own, and a failure (no interface yet, port 5353 or 1900 busy, a bad packet) is
logged, counted and retried at the next address refresh.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from zeroconf import InterfaceChoice
from zeroconf.asyncio import AsyncZeroconf

from evsite.clock import Clock
from evsite.discovery.addresses import lan_addresses
from evsite.discovery.announce import Announcer
from evsite.discovery.browse import StationBrowser
from evsite.discovery.counters import Counters
from evsite.discovery.recorder import CandidateRecorder, IsEnrolled, NotePending
from evsite.discovery.settings import DiscoverySettings
from evsite.discovery.ssdp import SsdpSearcher
from evsite.store.audit import AuditSink

log = logging.getLogger("evsite.discovery")


class Discovery:
    """Announces the device and turns stations found on the LAN into pending enrollments."""

    def __init__(
        self,
        settings: DiscoverySettings,
        *,
        hostname: str,
        ui_port: int,
        note_pending: NotePending,
        is_enrolled: IsEnrolled,
        audit: AuditSink,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._hostname = hostname
        self._ui_port = ui_port
        self._clock = clock
        self._recorder = CandidateRecorder(
            note_pending=note_pending,
            is_enrolled=is_enrolled,
            audit=audit,
            max_known=settings.max_candidates,
        )
        self._zc: AsyncZeroconf | None = None
        self._announcer: Announcer | None = None
        self._browser: StationBrowser | None = None
        self._ssdp: SsdpSearcher | None = None
        self._task: asyncio.Task[None] | None = None
        self._addresses: list[str] = []
        self.counters = Counters("errors", "announced", "name_conflicts", "address_changes")

    @property
    def _wants_zeroconf(self) -> bool:
        s = self._settings
        return s.announce.enabled or (s.mdns.enabled and bool(s.mdns.types + s.mdns.filtered_types))

    def addresses(self) -> list[str]:
        """The addresses discovery works on right now."""
        return lan_addresses(self._settings.interfaces)

    async def start(self) -> None:
        """Start every enabled part; returns at once, the announcement follows in the background."""
        if not self._settings.enabled or self._task is not None:
            return
        self._recorder.start()
        if self._settings.ssdp.enabled:
            self._ssdp = SsdpSearcher(
                self._settings.ssdp, self.addresses, self._recorder.offer, self._clock
            )
            self._ssdp.start()
        self._task = asyncio.create_task(self._run(), name="discovery")

    async def stop(self) -> None:
        """Withdraw the announcement and stop every part."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._ssdp is not None:
            await self._ssdp.stop()
        await self._close_zeroconf()
        await self._recorder.stop()

    async def _close_zeroconf(self) -> None:
        browser, announcer, zc = self._browser, self._announcer, self._zc
        self._browser = self._announcer = self._zc = None
        # Each step on its own: a failed goodbye must not leave the sockets open.
        steps: list[Callable[[], Awaitable[None]]] = []
        if browser is not None:
            steps.append(browser.stop)
        if announcer is not None:
            steps.append(announcer.withdraw)
        if zc is not None:
            steps.append(zc.async_close)
        for step in steps:
            try:
                await step()
            except Exception:
                self.counters.inc("errors")
                log.exception("closing mDNS failed")

    async def _run(self) -> None:
        while True:
            try:
                await self._refresh()
            except Exception:
                self.counters.inc("errors")
                log.exception("discovery refresh failed")
            await asyncio.sleep(self._settings.address_refresh_s)

    async def _refresh(self) -> None:
        """Bring zeroconf up, or follow changed addresses."""
        addresses = self.addresses()
        changed = addresses != self._addresses
        self._addresses = addresses
        if not self._wants_zeroconf:
            return
        configured = bool(self._settings.interfaces)
        if self._zc is None:
            if configured and not addresses:
                return  # none of the configured interfaces is up yet
            self._open_zeroconf(addresses)
        elif changed:
            self.counters.inc("address_changes")
            if not configured:
                await self._zc.async_update_interfaces()
            elif addresses:
                chosen: list[str | int] = [*addresses]
                await self._zc.async_update_interfaces(chosen)
        if self._announcer is not None:
            await self._announcer.update(addresses)

    def _open_zeroconf(self, addresses: list[str]) -> None:
        s = self._settings
        chosen: list[str | int] = [*addresses]
        interfaces = chosen if s.interfaces else InterfaceChoice.All
        try:
            self._zc = AsyncZeroconf(interfaces=interfaces)
        except (OSError, RuntimeError) as exc:  # no interface, or 5353 not available
            self.counters.inc("errors")
            log.warning("mDNS not available (will retry): %s", exc)
            return
        if s.announce.enabled:
            self._announcer = Announcer(self._zc, self._hostname, self._ui_port, self.counters)
        if s.mdns.enabled:
            self._browser = StationBrowser(self._zc, s.mdns, self._recorder.offer, self._own_names)
            self._browser.start()

    def _own_names(self) -> set[str]:
        service = self._announcer.service if self._announcer else None
        return {service} if service else set()

    async def drained(self) -> None:
        """Wait until every candidate found so far has reached the store."""
        await self._recorder.drained()

    def status(self) -> dict[str, Any]:
        """Counters and the announced name, as plain data for a status page."""
        return {
            "enabled": self._settings.enabled,
            "addresses": list(self._addresses),
            "host": self._announcer.host if self._announcer else None,
            "service": self._announcer.service if self._announcer else None,
            "counters": self.counters.snapshot(),
            "candidates": {**self._recorder.counters.snapshot(), "known": self._recorder.known},
            "mdns": self._browser.counters.snapshot() if self._browser else {},
            "ssdp": self._ssdp.counters.snapshot() if self._ssdp else {},
        }
