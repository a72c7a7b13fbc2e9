"""Running the controller until told to stop: start, print where it listens, stop cleanly."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from evsite.clock import SystemClock
from evsite.config import Settings
from evsite.controller import Controller

log = logging.getLogger("evsite")


async def run_controller(settings: Settings, data_dir: Path, stop: asyncio.Event) -> None:
    """Serve until the stop event is set."""
    controller = Controller(settings, data_dir, SystemClock())
    ports = await controller.start()
    log.info(
        "OCPP stations: wss://%s:%d/ocpp/<stationId>", settings.ocpp.server.bind, ports.ocpp_tls
    )
    try:
        await stop.wait()
    finally:
        await controller.stop()
        controller.db.close()
