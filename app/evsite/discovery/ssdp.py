"""Stations found by SSDP: a periodic M-SEARCH and strictly bounded handling of the answers.

The search leaves from port 1900 of each LAN address (the firewall lets answers
in to that port only). Answers are accepted only during the MX window after a
search, at a limited rate, up to a size limit; anything else is counted and
dropped. Nothing is kept per answer but the candidate it yields.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Any

from evsite.clock import Clock
from evsite.discovery.candidates import Candidate, matches_any, ssdp_station_id
from evsite.discovery.counters import Counters
from evsite.discovery.settings import SsdpSettings
from evsite.discovery.ssdp_message import (
    SsdpError,
    SsdpNotResponse,
    SsdpOversized,
    SsdpResponse,
    m_search,
    parse_response,
)

log = logging.getLogger("evsite.discovery")
# Answers may trail the MX delay by network latency; one more second covers a LAN.
WINDOW_GRACE_S = 1.0


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, searcher: SsdpSearcher) -> None:
        self._searcher = searcher

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self._searcher.handle_datagram(data, str(addr[0]))

    def error_received(self, exc: Exception) -> None:
        self._searcher.counters.inc("socket_errors")


class TokenBucket:
    """At most `rate` events a second on average, `rate` at once."""

    def __init__(self, rate: float, clock: Clock) -> None:
        self._rate = rate
        self._clock = clock
        self._tokens = rate
        self._at = clock.monotonic()

    def take(self) -> bool:
        """Spend one token; False when none is left."""
        now = self._clock.monotonic()
        self._tokens = min(self._rate, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


def wanted(response: SsdpResponse, settings: SsdpSettings) -> bool:
    """True if the answer looks like a charger by its SERVER or its device type."""
    device_type = response.usn.split("::", 1)[1] if "::" in response.usn else ""
    return matches_any(settings.server_patterns, [response.server]) or matches_any(
        settings.st_patterns, [response.st, device_type]
    )


class SsdpSearcher:
    """Searches from every LAN address and offers the matching answers as candidates."""

    def __init__(
        self,
        settings: SsdpSettings,
        addresses: Callable[[], list[str]],
        offer: Callable[[Candidate], None],
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._addresses = addresses
        self._offer = offer
        self._clock = clock
        self._bucket = TokenBucket(settings.max_responses_per_s, clock)
        self._transports: dict[str, asyncio.DatagramTransport] = {}
        self._window_end = float("-inf")
        self._task: asyncio.Task[None] | None = None
        self.counters = Counters(
            "searches", "responses", "candidates", "filtered", "malformed", "oversized",
            "not_responses", "rate_limited", "outside_window", "socket_errors", "errors",
        )  # fmt: skip

    def start(self) -> None:
        """Search now and then every interval (on the running loop)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="discovery-ssdp")

    async def stop(self) -> None:
        """Stop searching and close the sockets."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for transport in self._transports.values():
            transport.close()
        self._transports.clear()

    async def _run(self) -> None:
        while True:
            try:
                await self.search()
            except Exception:
                self.counters.inc("errors")
                log.exception("SSDP search failed")
            await asyncio.sleep(self._settings.interval_s)

    async def search(self) -> None:
        """Send one M-SEARCH from every LAN address and open the answer window."""
        await self._reconcile(self._addresses())
        s = self._settings
        host = f"{s.target[0]}:{s.target[1]}"
        request = m_search(s.search_target, s.mx, host)
        self._window_end = self._clock.monotonic() + s.mx + WINDOW_GRACE_S
        for address, transport in self._transports.items():
            try:
                transport.sendto(request, s.target)
            except OSError as exc:
                self.counters.inc("socket_errors")
                log.warning("SSDP search from %s failed: %s", address, exc)
        if self._transports:
            self.counters.inc("searches")

    async def _reconcile(self, addresses: list[str]) -> None:
        for gone in set(self._transports) - set(addresses):
            self._transports.pop(gone).close()
        loop = asyncio.get_running_loop()
        for address in addresses:
            if address in self._transports:
                continue
            try:
                sock = self._socket(address)
            except OSError as exc:
                self.counters.inc("socket_errors")
                log.warning("SSDP socket on %s:%d: %s", address, self._settings.source_port, exc)
                continue
            transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self), sock=sock)
            self._transports[address] = transport

    def _socket(self, address: str) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(address))
            # UPnP's TTL: the search stays on the local segment.
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 2)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
            sock.bind((address, self._settings.source_port))
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock

    def handle_datagram(self, data: bytes, sender: str) -> None:
        """One datagram from the socket: checked, parsed, filtered, maybe offered."""
        if self._clock.monotonic() > self._window_end:
            self.counters.inc("outside_window")
            return
        if not self._bucket.take():
            self.counters.inc("rate_limited")
            return
        try:
            response = parse_response(data, self._settings.max_response_bytes)
        except SsdpOversized:
            self.counters.inc("oversized")
            return
        except SsdpNotResponse:
            self.counters.inc("not_responses")
            return
        except SsdpError:
            self.counters.inc("malformed")
            return
        self.counters.inc("responses")
        if not wanted(response, self._settings):
            self.counters.inc("filtered")
            return
        station_id = ssdp_station_id(response.usn, response.location)
        if station_id is None:
            self.counters.inc("malformed")
            return
        self.counters.inc("candidates")
        detail = {"server": response.server[:100], "st": response.st[:100]}
        self._offer(Candidate(station_id, sender, "ssdp", detail))
