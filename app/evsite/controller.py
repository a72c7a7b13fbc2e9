"""The running controller: builds the core objects from settings and runs them on one loop."""

from __future__ import annotations

import asyncio
import asyncio.sslproto
import gc
import logging
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evsite import __version__
from evsite.clock import Clock
from evsite.config import Settings
from evsite.facade.schema import FACADE_MIGRATIONS
from evsite.load_management import LoadManagement
from evsite.ocpp.central import CentralSystem
from evsite.ocpp.commands import StationCommands
from evsite.ocpp.events import EventBus
from evsite.ocpp.server import StationServer
from evsite.ocpp.state import LiveState
from evsite.status import build_status, write_status
from evsite.store.audit import AuditLog
from evsite.store.badges import BadgeRepository
from evsite.store.commit import GroupCommitter
from evsite.store.db import Database, open_database
from evsite.store.stations import StationRepository
from evsite.store.transactions import TransactionRepository
from evsite.tls import ensure_self_signed, server_context
from evsite.update.system import UpdateSystem
from evsite.uplink.schema import UPLINK_MIGRATIONS
from evsite.uplink.service import Uplink
from evsite.web.schema import WEB_MIGRATIONS

log = logging.getLogger("evsite")

# Every package that owns tables hands in its migrations here, the one place that knows them.
MIGRATIONS = {"web": WEB_MIGRATIONS, "uplink": UPLINK_MIGRATIONS, "facade": FACADE_MIGRATIONS}

# asyncio gives every TLS connection a 256 KiB read buffer; a TLS record carries at most
# 16 KiB of plaintext (plus header and tag), so 18 KiB loses nothing and saves ~238 KiB per
# station — the difference between 1,000 stations costing 250 MB of RAM or 20 MB.
TLS_READ_BUFFER = 18 * 1024


def tune_gc() -> None:
    """Keep the garbage collector from pausing the loop for long at many connections.

    Objects made at start-up are frozen out of collection, and the youngest
    generation collects less often: with a thousand stations a full collection
    otherwise stalls every station's round trip for a hundred milliseconds or more.
    """
    gc.freeze()
    gc.set_threshold(20_000, 20, 50)


def tune_tls_buffers() -> None:
    """Shrink asyncio's per-connection TLS buffer (process-wide)."""
    asyncio.sslproto.SSLProtocol.max_size = TLS_READ_BUFFER


def ocpp_tls_paths(data_dir: Path) -> tuple[Path, Path]:
    """Where the OCPP server's certificate and key live."""
    return data_dir / "tls" / "ocpp.crt", data_dir / "tls" / "ocpp.key"


@dataclass
class Ports:
    """What the controller is listening on."""

    ocpp_tls: int | None = None
    ocpp_plain: int | None = None


class Controller:
    """Owns the store, the station server and the live state."""

    def __init__(
        self, settings: Settings, data_dir: Path, clock: Clock, db: Database | None = None
    ) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.clock = clock
        self.db = db or open_database(data_dir, MIGRATIONS)
        self.audit = AuditLog(self.db, clock)
        self.writer = GroupCommitter(self.db)
        self.stations = StationRepository(self.db, clock, self.writer)
        self.transactions = TransactionRepository(self.db, clock, self.writer)
        self.badges = BadgeRepository(self.db)
        self.events = EventBus()
        self.live = LiveState()
        self.events.subscribe(self.live.apply)
        # The uplink decides authorization (local list, cache, CSMS) in every mode; in
        # standalone mode it answers from the local badge list alone.
        self.uplink = Uplink(settings.uplink, self.db, self.writer, self.audit, self.badges, clock)
        self.central = CentralSystem(
            self.stations,
            self.transactions,
            self.uplink.authorizer,
            self.audit,
            self.events,
            clock,
            settings.ocpp.central,
        )
        tune_tls_buffers()
        cert, key = ocpp_tls_paths(data_dir)
        if ensure_self_signed(
            cert,
            key,
            settings.hostname,
            dns_names=[
                settings.hostname,
                f"{settings.hostname}.local",
                socket.gethostname(),
                "localhost",
            ],
            ip_addresses=["127.0.0.1"],
        ):
            self.audit.record("certificate.generated", detail={"purpose": "ocpp"})
        self.server = StationServer(
            settings.ocpp.server,
            self.stations,
            self.audit,
            self.events,
            clock,
            self.central.handlers(),
            server_context(cert, key, settings.ocpp.client_ca),
        )
        self.uplink.attach(self.server)
        self.commands = StationCommands(self.server)
        self.load = LoadManagement(
            settings.load, clock, self.events, self.live, self.commands, self.audit
        )
        if self.load.loop is not None:
            self.uplink.profiles.subscribe(self._csms_profile_changed)
        self.ports = Ports()
        self._watcher: asyncio.Task[None] | None = None
        self._status_task: asyncio.Task[None] | None = None
        self.updates: UpdateSystem | None = None  # set by the boot check where configured

    async def start(self) -> Ports:
        """Start serving stations."""
        await self.uplink.start()  # first, so the startup record is forwarded to the CSMS
        self.audit.record("startup", detail={"version": __version__})
        bound = await self.server.start()
        self.ports.ocpp_tls = bound[0]
        if self.settings.ocpp.server.plain_ws:
            self.ports.ocpp_plain = bound[-1]
        self._watcher = asyncio.create_task(self._watch_store())
        await self.load.start()
        self._status_task = asyncio.create_task(self._write_status())
        tune_gc()
        return self.ports

    async def stop(self) -> None:
        """Stop serving and close the store."""
        for task in (self._watcher, self._status_task):
            if task:
                task.cancel()
        await self.load.stop()
        await self.uplink.stop()
        await self.server.stop()
        self.audit.record("shutdown")
        self.writer.close()

    def _csms_profile_changed(self, station_id: str) -> None:
        """A CSMS set or cleared a profile: the station gets the tighter of it and ours."""
        if self.load.loop is not None:
            self.load.loop.set_csms_limit(station_id, self.uplink.profiles.limit_a(station_id, 1))

    def status(self) -> dict[str, Any]:
        """The live status as plain data (what `evsite status` shows)."""
        loop = self.load.loop
        return build_status(
            self.clock,
            self.live,
            loop.snapshot if loop else None,
            self.load.site_meter(),
            [m.status() for m in self.load.meters],
        )

    async def _write_status(self, interval: float = 2.0) -> None:
        while True:
            try:
                # Built on the loop (consistent), serialized and written off it (22 ms for
                # a thousand stations is too long a pause for the stations' round trips).
                await asyncio.to_thread(write_status, self.data_dir, self.status())
            except OSError as exc:
                log.warning("status snapshot not written: %s", exc)
            await asyncio.sleep(interval)

    async def _watch_store(self, interval: float = 0.5) -> None:
        """Apply changes other processes (the CLI) made: a removed station is cut off at once."""
        reader = Database(self.db.path)
        try:
            version = reader.query_one("PRAGMA data_version")
            while True:
                await asyncio.sleep(interval)
                now = reader.query_one("PRAGMA data_version")
                if now is None or version is None or now[0] == version[0]:
                    continue
                version = now
                await self.reconcile()
        finally:
            reader.close()

    async def reconcile(self) -> None:
        """Disconnect live sessions whose station is no longer enrolled."""
        for station_id in list(self.server.sessions):
            if not self.stations.exists(station_id):
                await self.server.disconnect(station_id, "station removed")
                self.live.forget(station_id)
