"""The update system a run gets: the `[update]` table on the device, working defaults under sim.

On the device (`evsite run`) the `[update]` table is used as it is; without
one there is no update system (the boot check and the update page say so).

Under `evsite sim` nothing of the machine is touched: the slots are sparse
files and the bootchooser is the simulated one, all under
`<data-dir>/sim-update/`; the simulated device starts booted from slot A. The
trusted key is the development key of the signing tool (`make bundle` signs
with it), or the `[update] keyring` when one is set. Without either, updates
stay off and the log says how to switch them on; a missing key never stops
the simulated site from running.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import evsite
from evsite.clock import Clock
from evsite.config_errors import ConfigError
from evsite.store.audit import AuditSink
from evsite.update.bootchooser import FileBootchooser
from evsite.update.bootscript import simulated_reboot
from evsite.update.bundle import MAGIC
from evsite.update.keyring import KeyringError
from evsite.update.manifest import MAX_MANIFEST_BYTES, PAYLOAD_NAMES
from evsite.update.mark import RebootAction
from evsite.update.service import UnavailableUpdates, UpdateService
from evsite.update.settings import SlotSetting, UpdateSettings, parse_update_settings
from evsite.update.signature import SIGNATURE_BLOCK_BYTES
from evsite.update.slot import BOOTNAMES, SlotTable
from evsite.update.state import StateStore, UpdateState
from evsite.update.system import UpdateSystem, build_update_system

log = logging.getLogger("evsite.update")

SIM_DIR = "sim-update"
INCOMING_DIR = "update-incoming"
SIM_BOARD = "cm4"  # what `make bundle` builds by default
# Sparse files: they take disk space only as far as a bundle writes into them.
SIM_SLOT_SIZES = {"boot": 256 * 1024 * 1024, "rootfs": 2 * 1024 * 1024 * 1024}
DEV_DIR_ENV = "EVSITE_DEV_SIGNING_DIR"  # the signing tool's override of its dev key directory
DEV_PUBLIC_NAME = "signing.pub"
# Everything before the payloads: magic, manifest length, manifest, block length, block.
BUNDLE_HEADER_MAX = len(MAGIC) + 4 + MAX_MANIFEST_BYTES + 4 + SIGNATURE_BLOCK_BYTES


def dev_public_key(env: Mapping[str, str] | None = None, home: Path | None = None) -> Path:
    """Where the signing tool keeps the development public key (it may not exist)."""
    env = os.environ if env is None else env
    override = env.get(DEV_DIR_ENV)
    base = Path(override) if override else (home or Path.home()) / ".config/evsite/dev-signing"
    return base / DEV_PUBLIC_NAME


def bundle_limit(slots: SlotTable) -> int:
    """The largest bundle that can fit this device: header plus one full side of slots."""
    sides = [sum(s.size for s in slots.group(b).values()) for b in BOOTNAMES]
    return BUNDLE_HEADER_MAX + max(sides, default=0)


def simulated_settings(
    table: Mapping[str, Any], data_dir: Path, dev_key: Path
) -> UpdateSettings | None:
    """Settings for the simulated device, or None when no trusted key is at hand."""
    given = parse_update_settings(table)  # still refuse bad keys, even under sim
    keyring = given.keyring if "keyring" in table else dev_key
    if not keyring.exists():
        log.warning(
            "updates are off in the simulator: no trusted key at %s; make one with "
            "`signing/evsite-sign sign ...` (it creates the development key) or set "
            "[update] keyring",
            keyring,
        )
        return None
    root = data_dir / SIM_DIR
    return UpdateSettings(
        board=given.board or SIM_BOARD,
        keyring=keyring,
        state_dir=root / "state",
        bootchooser="sim",
        slot_writer="file",
        allow_development=True,
        slots={
            b: {
                c: SlotSetting(root / "slots" / f"{c}_{b.lower()}", SIM_SLOT_SIZES[c])
                for c in PAYLOAD_NAMES
            }
            for b in BOOTNAMES
        },
    )


def prepare_simulated_device(settings: UpdateSettings, data_dir: Path, version: str) -> None:
    """First run only: sparse slot files, A installed and booted, B empty."""
    for group in settings.slots.values():
        for setting in group.values():
            setting.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not setting.path.exists():
                with open(setting.path, "wb") as f:
                    f.truncate(setting.size or 0)
    env = settings.sim_env_path(data_dir)
    if not env.exists():
        env.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # As the image ships: A installed and first, B empty and out of the order.
        FileBootchooser(env).write_env({"BOOT_ORDER": "A", "BOOT_A_LEFT": "3", "BOOT_B_LEFT": "0"})
        state = StateStore(settings.state_path(data_dir))
        if not state.path.exists():
            state.save(UpdateState(versions={"A": version}))
    cmdline = settings.cmdline_path(data_dir)
    if not cmdline.exists():
        simulated_reboot(env, cmdline)


def _settings_for(
    raw_config: Mapping[str, Any], data_dir: Path, *, simulated: bool, dev_key: Path | None
) -> UpdateSettings | None:
    table = raw_config.get("update")
    if simulated:
        if table is not None and not isinstance(table, Mapping):
            raise ConfigError("update", "must be a table")
        return simulated_settings(table or {}, data_dir, dev_key or dev_public_key())
    if table is None:
        log.info("no [update] table: signed updates are off")
        return None
    return parse_update_settings(table)


def _build(
    settings: UpdateSettings,
    data_dir: Path,
    audit: AuditSink,
    clock: Clock,
    reboot: RebootAction,
    *,
    simulated: bool,
    running_version: str,
) -> UpdateSystem | None:
    if simulated:
        prepare_simulated_device(settings, data_dir, running_version)
    try:
        return build_update_system(
            settings,
            data_dir=data_dir,
            audit=audit,
            clock=clock,
            running_version=running_version,
            reboot=reboot,
        )
    except KeyringError as exc:
        log.error("signed updates are off: the keyring is unusable: %s", exc)
        return None


def build_update_for(
    raw_config: Mapping[str, Any],
    data_dir: Path,
    audit: AuditSink,
    clock: Clock,
    reboot: RebootAction,
    *,
    simulated: bool,
    dev_key: Path | None = None,
    running_version: str = evsite.__version__,
) -> UpdateSystem | None:
    """The update system of this run, or None when updates are off (the log says why).

    Raises ConfigError for a bad `[update]` setting; never for a missing key.
    """
    settings = _settings_for(raw_config, data_dir, simulated=simulated, dev_key=dev_key)
    if settings is None:
        return None
    return _build(
        settings,
        data_dir,
        audit,
        clock,
        reboot,
        simulated=simulated,
        running_version=running_version,
    )


def simulated_reboot_action(
    system: UpdateSystem,
    settings: UpdateSettings,
    data_dir: Path,
    platform_reboot: Callable[[], None],
) -> Callable[[], None]:
    """Under sim, a reboot runs the boot script model (it picks the trial slot), lets the
    new slot pass its health check at once (the process itself keeps running), and has
    the platform twin record the reboot."""
    env, cmdline = settings.sim_env_path(data_dir), settings.cmdline_path(data_dir)

    def reboot() -> None:
        decision = simulated_reboot(env, cmdline)
        outcome = system.confirmer.mark_good(actor="sim")
        log.info("simulated reboot into slot %s: %s", decision.slot, outcome)
        platform_reboot()

    return reboot


def build_update_service_for(
    raw_config: Mapping[str, Any],
    data_dir: Path,
    audit: AuditSink,
    clock: Clock,
    platform_reboot: Callable[[], None],
    *,
    simulated: bool,
    dev_key: Path | None = None,
    running_version: str = evsite.__version__,
) -> UpdateService | UnavailableUpdates:
    """The update actions for the web facade and the CSMS: a working service, or one that
    says why updates are off. Raises ConfigError for a bad `[update]` setting."""
    settings = _settings_for(raw_config, data_dir, simulated=simulated, dev_key=dev_key)
    system = (
        _build(
            settings,
            data_dir,
            audit,
            clock,
            platform_reboot,
            simulated=simulated,
            running_version=running_version,
        )
        if settings is not None
        else None
    )
    if settings is None or system is None:
        return UnavailableUpdates(
            "signed updates are not set up on this device (no [update] settings or no "
            "usable trusted key); see docs/updates.md",
            running_version,
        )
    reboot = (
        simulated_reboot_action(system, settings, data_dir, platform_reboot)
        if simulated
        else platform_reboot
    )
    return UpdateService(
        system,
        work_dir=data_dir / INCOMING_DIR,
        clock=clock,
        audit=audit,
        reboot=reboot,
        running_version=running_version,
        max_bundle_bytes=bundle_limit(settings.slot_table()),
    )
