"""After start-up: the health check that commits a trial boot, or rejects it and reboots.

It runs only where the `[update]` table configures the update system (the
device). The probes are what "the new version works" means: the OCPP and UI
ports listen, the data partition is mounted, the audit chain and the database
pass their own checks.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from evsite import __version__
from evsite.update.mark import Outcome, Probe, is_mountpoint, port_listening
from evsite.update.settings import UpdateSettings, parse_update_settings
from evsite.update.system import UpdateSystem, build_update_system

if TYPE_CHECKING:
    from evsite.controller import Controller

log = logging.getLogger("evsite.update")
DATA_MOUNT = Path("/data")


def build_updates(controller: Controller) -> tuple[UpdateSettings, UpdateSystem] | None:
    """The update system when `[update]` is configured, else None (simulated and dev runs)."""
    table = controller.settings.raw.get("update")
    if table is None:
        return None
    settings = parse_update_settings(table)

    def reboot() -> None:
        controller.audit.record("platform.reboot", detail={"reason": "update health check"})
        subprocess.run(settings.helper_command("reboot"), check=False, timeout=30)

    system = build_update_system(
        settings,
        data_dir=controller.data_dir,
        audit=controller.audit,
        clock=controller.clock,
        running_version=__version__,
        reboot=reboot,
    )
    return settings, system


def self_test(controller: Controller) -> Probe:
    """The app's own check: the audit chain is intact and the database answers."""

    def probe() -> bool:
        problems = controller.audit.verify()
        row = controller.db.query_one("PRAGMA quick_check")
        return not problems and row is not None and row[0] == "ok"

    return probe


async def confirm_boot(
    controller: Controller, settings: UpdateSettings, system: UpdateSystem, ui_port: int
) -> Outcome:
    """Run the health check of this boot and commit or roll back."""
    ocpp_port = controller.ports.ocpp_tls or controller.settings.ocpp.server.port
    probes: dict[str, Probe] = {
        "ocpp": port_listening("127.0.0.1", ocpp_port),
        "ui": port_listening("127.0.0.1", ui_port),
        "self-test": self_test(controller),
    }
    if DATA_MOUNT in controller.data_dir.parents:
        probes["data"] = is_mountpoint(DATA_MOUNT)
    outcome = await system.confirmer.confirm(probes, timeout_s=settings.health_timeout_s)
    log.info("boot confirmation: %s", outcome)
    return outcome


def start_boot_check(controller: Controller, ui_port: int) -> asyncio.Task[Outcome] | None:
    """Start the boot confirmation in the background when updates are configured."""
    built = build_updates(controller)
    if built is None:
        return None
    settings, system = built
    controller.updates = system
    return asyncio.create_task(confirm_boot(controller, settings, system, ui_port))
