"""The uplink as one object: channels per identity, the relay, the authorizer, the forwarder.

Built once by the composition root; see docs/uplink.md for the wiring.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Coroutine
from typing import Any

from evsite.clock import Clock
from evsite.ocpp.frames import CallResult
from evsite.ocpp.server import StationServer
from evsite.ocpp.session import StationSession
from evsite.store.audit import AuditLog
from evsite.store.badges import BadgeRepository
from evsite.store.commit import Writer
from evsite.store.db import Database
from evsite.uplink.authcache import AuthCache, CsmsLocalLists
from evsite.uplink.authorize import UplinkAuthorizer
from evsite.uplink.backoff import Backoff, Pacer
from evsite.uplink.channel import Channel
from evsite.uplink.credentials import CredentialStore
from evsite.uplink.dialer import Dialer
from evsite.uplink.downstream import ControllerHandler, CsmsCalls
from evsite.uplink.link import UpstreamLink
from evsite.uplink.outbox import Entry, Outbox
from evsite.uplink.profiles import CsmsProfiles
from evsite.uplink.relay import StationRelay
from evsite.uplink.security_events import SecurityEventForwarder
from evsite.uplink.settings import GroupSettings, Mode, UplinkSettings
from evsite.uplink.txmap import TxMap

log = logging.getLogger("evsite.uplink")


class Uplink:
    """Relays stations to their CSMS, journals what cannot go, and forwards security events."""

    def __init__(
        self,
        settings: UplinkSettings,
        db: Database,
        writer: Writer,
        audit: AuditLog,
        badges: BadgeRepository,
        clock: Clock,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self._db = db
        self._writer = writer
        self._audit = audit
        self._clock = clock
        self._rng = rng or random.Random()
        self.credentials = CredentialStore(db, clock)
        self.outbox = Outbox(db, writer, clock)
        self.txmap = TxMap(db, clock)
        self.local_lists = CsmsLocalLists(db, writer)
        self.cache = AuthCache(db, writer, clock, settings.auth_cache_ttl)
        self.profiles = CsmsProfiles(db, writer, clock)
        self.authorizer = UplinkAuthorizer(
            settings, badges, self.local_lists, self.cache, self.is_available, clock
        )
        self._dialer = Dialer(settings, self.credentials)
        self._pacer = Pacer(settings.connect_rate)
        self._channels: dict[str, Channel] = {}
        self._server: StationServer | None = None
        self.relay = StationRelay(
            settings,
            self._station_channel,
            self.outbox,
            self.txmap,
            writer,
            self.authorizer,
            self.cache,
        )
        self._downstream = CsmsCalls(
            settings,
            self._session_of,
            self.credentials,
            self._dialer,
            self.profiles,
            self.local_lists,
            self.txmap,
            audit,
            self._reconnect,
        )
        self._forwarder: SecurityEventForwarder | None = None
        if settings.controller_id:
            self._forwarder = SecurityEventForwarder(
                audit,
                db,
                writer,
                self.outbox,
                settings.controller_id,
                settings.security_events_exclude,
            )
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def enabled(self) -> bool:
        """False in standalone mode: nothing to relay."""
        return self.settings.mode != Mode.STANDALONE

    def attach(self, server: StationServer) -> None:
        """Register with the station server: every new session of a relayed station gets a relay."""
        self._server = server
        server.on_session.append(self._on_session)

    async def start(self) -> None:
        """Bring up links that have journaled messages, and the controller's own identity."""
        if not self.enabled:
            return
        controller = self._controller_group()
        if controller is not None and self._forwarder is not None:
            await self._journal_controller_boot()
            channel = self._ensure(self.settings.controller_id, controller)
            self._forwarder.on_queued.append(channel.kick)
            await self._forwarder.start()
        for identity in self.outbox.identities():
            group = self.settings.upstream_of(identity)
            if group is None:
                log.warning("%s: journaled messages but no CSMS group any more", identity)
                continue
            self._ensure(identity, group)

    async def stop(self) -> None:
        """Close every link (journaled messages stay for the next start)."""
        if self._forwarder is not None:
            await self._forwarder.stop()
        for task in list(self._tasks):
            task.cancel()
        channels, self._channels = list(self._channels.values()), {}
        await asyncio.gather(*(c.stop() for c in channels), return_exceptions=True)

    def serve_controller(self, handler: ControllerHandler) -> None:
        """Let `handler` answer CSMS requests to the controller's own identity (firmware)."""
        self._downstream.controller_handler = handler

    def is_available(self, station_id: str) -> bool:
        """The station's CSMS is reachable and answering."""
        channel = self._channels.get(station_id)
        return channel is not None and channel.available

    def channel(self, identity: str) -> Channel | None:
        """The live channel of an identity (for status pages and tests)."""
        return self._channels.get(identity)

    def station_tx_id(self, station_id: str, local_tx: int) -> int:
        """The transaction id a station holds for a local one (for TxProfiles sent to it)."""
        link = self.txmap.by_local_tx(station_id, local_tx)
        return link.station_tx if link else local_tx

    def _controller_group(self) -> GroupSettings | None:
        name = self.settings.security_events_group
        return self.settings.groups.get(name) if name else None

    async def _journal_controller_boot(self) -> None:
        identity = self.settings.controller_id
        unique_id = f"evs-boot-{int(self._clock.now().timestamp() * 1000)}"
        payload = {"chargePointVendor": "evsite", "chargePointModel": "site controller"}
        frame = json.dumps([2, unique_id, "BootNotification", payload], separators=(",", ":"))
        await self.outbox.add(identity, unique_id, "BootNotification", frame)

    def _session_of(self, station_id: str) -> StationSession | None:
        return self._server.session(station_id) if self._server is not None else None

    def _station_channel(self, station_id: str) -> Channel | None:
        group = self.settings.upstream_of(station_id)
        return self._ensure(station_id, group) if group is not None else None

    def _ensure(self, identity: str, group: GroupSettings) -> Channel:
        channel = self._channels.get(identity)
        if channel is None:
            link = UpstreamLink(
                identity,
                lambda: self._dialer.dial(identity, group),
                lambda call: self._downstream.handle(identity, group, call),
                self._audit,
                Backoff(self.settings.backoff_initial, self.settings.backoff_max, self._rng),
                self._pacer,
            )
            channel = Channel(
                identity,
                group,
                link,
                self.outbox,
                self.txmap,
                self._writer,
                self.settings,
                self._on_replayed,
            )
            channel.idle_listeners.append(self._maybe_close)
            self._channels[identity] = channel
        if not channel.running:
            channel.start()
        return channel

    def _on_session(self, session: StationSession) -> None:
        group = self.settings.upstream_of(session.station_id)
        if group is None:
            return
        session.relay = self.relay
        channel = self._ensure(session.station_id, group)
        channel.station_connected = True
        self._spawn(self._watch(session, channel))

    async def _watch(self, session: StationSession, channel: Channel) -> None:
        await session.closed.wait()
        current = self._session_of(session.station_id)
        channel.station_connected = current is not None and current is not session
        self._maybe_close(channel)

    def _maybe_close(self, channel: Channel) -> None:
        """A station gone with nothing left to replay: its CSMS sees it go offline too."""
        if (
            channel.station_connected
            or channel.identity == self.settings.controller_id
            or self.outbox.pending_count(channel.identity)
            or self._channels.get(channel.identity) is not channel
        ):
            return
        del self._channels[channel.identity]
        self._spawn(channel.stop())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reconnect(self, identity: str) -> None:
        channel = self._channels.get(identity)
        if channel is not None:
            await channel.link.reconnect()

    async def _on_replayed(self, entry: Entry, answer: CallResult) -> None:
        info = answer.payload.get("idTagInfo")
        if not isinstance(info, dict) or "status" not in info:
            return
        try:
            id_tag = json.loads(entry.frame)[3].get("idTag")
        except (ValueError, IndexError, AttributeError):
            return
        if isinstance(id_tag, str):
            await self.cache.put(id_tag, info)
