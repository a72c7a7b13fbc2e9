"""Run the controller with the uplink, until the composition root builds it itself.

`python -m evsite.uplink run --config FILE --data-dir DIR [--bind A] [--ocpp-port N]`
does what `evsite run` does, plus the uplink from the [uplink] table.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from evsite.clock import Clock, SystemClock
from evsite.config import Settings
from evsite.controller import Controller
from evsite.store.db import open_database
from evsite.uplink.schema import UPLINK_MIGRATIONS
from evsite.uplink.service import Uplink
from evsite.uplink.settings import UplinkSettings, parse_uplink_settings

log = logging.getLogger("evsite")


def build(settings: Settings, data_dir: Path, clock: Clock) -> tuple[Controller, Uplink]:
    """A controller and its uplink, wired as controller.py should wire them."""
    uplink_settings: UplinkSettings = parse_uplink_settings(settings.raw)
    db = open_database(data_dir, extra={"uplink": UPLINK_MIGRATIONS})
    controller = Controller(settings, data_dir, clock, db)
    uplink = Uplink(
        uplink_settings, db, controller.writer, controller.audit, controller.badges, clock
    )
    # Controller has no authorizer parameter yet; this is the one line controller.py replaces.
    controller.central._authorizer = uplink.authorizer
    uplink.attach(controller.server)
    return controller, uplink


async def run_with_uplink(settings: Settings, data_dir: Path, stop: asyncio.Event) -> None:
    """Serve stations and the uplink until the stop event is set."""
    controller, uplink = build(settings, data_dir, SystemClock())
    await uplink.start()
    ports = await controller.start()
    log.info(
        "OCPP stations: wss://%s:%s/ocpp/<stationId>", settings.ocpp.server.bind, ports.ocpp_tls
    )
    try:
        await stop.wait()
    finally:
        await uplink.stop()
        await controller.stop()
        controller.db.close()
