"""Running the controller until told to stop: start, serve the web UI, print where, stop cleanly."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from evsite.clock import SystemClock
from evsite.config import Settings
from evsite.controller import MIGRATIONS, Controller
from evsite.facade import FACADE_MIGRATIONS, SiteFacadeImpl
from evsite.platform import Platform, build_platform, parse_platform_settings
from evsite.store.db import Database, open_database
from evsite.web.service import WebService, build_web

log = logging.getLogger("evsite")

# Settings saved from the web UI, in the data directory (the device's root is read-only).
SETTINGS_FILE = "settings.toml"


def open_controller_db(data_dir: Path) -> Database:
    """The store with every package's tables, the facade's badge groups included."""
    return open_database(data_dir, {**MIGRATIONS, "facade": FACADE_MIGRATIONS})


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


async def start_web(controller: Controller, platform: Platform, config_path: Path) -> WebFront:
    """Build the facade and the web layer over a started controller and start serving."""
    facade = SiteFacadeImpl(controller, platform, config_path)
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
    platform = build_platform(parse_platform_settings(settings.raw), clock, controller.audit)
    ports = await controller.start()
    log.info(
        "OCPP stations: wss://%s:%d/ocpp/<stationId>", settings.ocpp.server.bind, ports.ocpp_tls
    )
    front: WebFront | None = None
    try:
        front = await start_web(controller, platform, config_path or data_dir / SETTINGS_FILE)
        log.info("web UI: %s", front.url(settings.web.host))
        await stop.wait()
    finally:
        if front is not None:
            await front.stop()
        await controller.stop()
        db.close()
