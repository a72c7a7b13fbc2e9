"""Running the controller until told to stop: start, serve the web UI, print where, stop cleanly."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from evsite.boot_check import start_boot_check
from evsite.clock import SystemClock
from evsite.config import Settings
from evsite.controller import MIGRATIONS, Controller
from evsite.discovery import Discovery
from evsite.facade.impl import SiteFacadeImpl
from evsite.platform import (
    SWITCHABLE_PORTS,
    Platform,
    PlatformError,
    build_platform,
    parse_platform_settings,
)
from evsite.runtime_files import SETTINGS_FILE
from evsite.service_manager import notify, start_keep_alive, stop_keep_alive
from evsite.store.db import Database, open_database
from evsite.update.defaults import build_update_service_for
from evsite.update.service import UnavailableUpdates, UpdateService
from evsite.uplink.firmware import attach_controller_firmware, parse_firmware_settings
from evsite.web.service import WebService, build_web

log = logging.getLogger("evsite")

__all__ = ["SETTINGS_FILE", "WebFront", "open_controller_db", "run_controller", "start_web"]


def open_controller_db(data_dir: Path) -> Database:
    """The store with every package's tables, the facade's badge groups included."""
    return open_database(data_dir, MIGRATIONS)


@dataclass
class WebFront:
    """The web UI of a running controller: its facade and its HTTPS server."""

    facade: SiteFacadeImpl
    service: WebService

    @property
    def port(self) -> int:
        """The bound HTTPS port (the real one, also after asking for port 0)."""
        return self.service.https.port

    def url(self, host: str) -> str:
        """The UI's address; a wildcard bind is shown as the loopback address."""
        shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, host)
        if ":" in shown and not shown.startswith("["):
            shown = f"[{shown}]"
        return f"https://{shown}:{self.port}/"

    async def stop(self) -> None:
        """Stop serving (off the loop: requests in flight still need it), then the facade."""
        await asyncio.to_thread(self.service.stop)
        await self.facade.stop()


def build_updates(
    controller: Controller, platform: Platform, *, simulated: bool
) -> UpdateService | UnavailableUpdates:
    """The update actions (web upload and CSMS firmware requests share them)."""
    updates = build_update_service_for(
        controller.settings.raw,
        controller.data_dir,
        controller.audit,
        controller.clock,
        platform.reboot,
        simulated=simulated,
    )
    if isinstance(updates, UpdateService):
        attach_controller_firmware(
            controller.uplink,
            updates,
            audit=controller.audit,
            clock=controller.clock,
            settings=parse_firmware_settings(controller.settings.raw),
            reboot=platform.reboot,
        )
    return updates


async def start_web(
    controller: Controller, platform: Platform, config_path: Path, *, simulated: bool = False
) -> WebFront:
    """Build the facade and the web layer over a started controller and start serving."""
    updates = build_updates(controller, platform, simulated=simulated)
    facade = SiteFacadeImpl(controller, platform, config_path, updates=updates)
    await facade.start()
    try:
        # Certificate generation and binding block; the loop keeps serving stations meanwhile.
        service = await asyncio.to_thread(
            build_web,
            db=controller.db,
            clock=controller.clock,
            facade=facade,
            settings=controller.settings.web,
            data_dir=controller.data_dir,
        )
        await asyncio.to_thread(service.start)
    except BaseException:
        await facade.stop()
        raise
    return WebFront(facade, service)


def open_service_ports(platform: Platform, settings: Settings) -> None:
    """Open the firewall for the optional services that are on, and close it for the rest.

    The BMS server is reachable only from its allowed addresses; plain-ws OCPP from
    anywhere on the LAN, as its setting says. A service on a port the firewall cannot
    switch is logged: it runs, but nothing outside reaches it.
    """
    bms = settings.load.bms
    wanted: dict[int, tuple[str, ...]] = {}
    if bms is not None:
        wanted[bms.port] = bms.allowed
    if settings.ocpp.server.plain_ws:
        wanted[settings.ocpp.server.plain_port] = ()
    for port in SWITCHABLE_PORTS:
        try:
            if port in wanted:
                platform.open_port(port, wanted[port])
            else:
                platform.close_port(port)
        except PlatformError as exc:
            log.error("firewall: port %d: %s", port, exc)
    for port in sorted(set(wanted) - set(SWITCHABLE_PORTS)):
        log.error(
            "firewall: port %d stays closed: only %s can be opened; use one of those",
            port,
            " and ".join(str(p) for p in SWITCHABLE_PORTS),
        )


async def run_controller(
    settings: Settings, data_dir: Path, stop: asyncio.Event, config_path: Path | None = None
) -> None:
    """Serve stations and the web UI until the stop event is set.

    Settings saved in the UI go to config_path (by default the data directory's
    settings file) and apply at the next start.
    """
    clock = SystemClock()
    db = open_controller_db(data_dir)
    controller = Controller(settings, data_dir, clock, db)
    platform = build_platform(
        parse_platform_settings(settings.raw), clock, controller.audit, data_dir
    )
    ports = await controller.start()
    log.info(
        "OCPP stations: wss://%s:%d/ocpp/<stationId>", settings.ocpp.server.bind, ports.ocpp_tls
    )
    front: WebFront | None = None
    discovery: Discovery | None = None
    keep_alive: asyncio.Task[None] | None = None
    try:
        front = await start_web(controller, platform, config_path or data_dir / SETTINGS_FILE)
        log.info("web UI: %s", front.url(settings.web.host))
        await asyncio.to_thread(open_service_ports, platform, settings)
        start_boot_check(controller, front.port)
        discovery = Discovery(
            settings.discovery,
            hostname=settings.hostname,
            ui_port=front.port,
            note_pending=controller.stations.note_pending,
            is_enrolled=controller.stations.exists,
            audit=controller.audit,
            clock=clock,
        )
        await discovery.start()
        # Ready only now: every port listens and the boot check runs.
        notify("READY=1")
        keep_alive = start_keep_alive()
        await stop.wait()
    finally:
        notify("STOPPING=1")
        await stop_keep_alive(keep_alive)
        if discovery is not None:
            await discovery.stop()
        if front is not None:
            await front.stop()
        await controller.stop()
        platform.close()
        db.close()
