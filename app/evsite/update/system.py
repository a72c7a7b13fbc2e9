"""Build the update objects from settings: one factory the composition root and CLI share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evsite.clock import Clock
from evsite.store.audit import AuditSink
from evsite.update.bootchooser import (
    Bootchooser,
    CommandRunner,
    FileBootchooser,
    UBootBootchooser,
    run_command,
)
from evsite.update.install import Installer, InstallPolicy
from evsite.update.keyring import Keyring
from evsite.update.mark import BootConfirmer, RebootAction
from evsite.update.settings import UpdateSettings
from evsite.update.slot import FileSlotWriter, HelperSlotWriter, SlotWriter, read_booted_slot
from evsite.update.state import StateStore


@dataclass(frozen=True)
class UpdateSystem:
    """The wired update parts for one device."""

    installer: Installer
    confirmer: BootConfirmer
    bootchooser: Bootchooser
    state: StateStore
    keyring: Keyring
    cmdline: Path

    def booted_slot(self) -> str | None:
        """The slot running now."""
        return read_booted_slot(self.cmdline)


def make_bootchooser(
    settings: UpdateSettings, data_dir: Path, run: CommandRunner = run_command
) -> Bootchooser:
    """The backend the settings name: U-Boot via the helpers, or the simulated file."""
    if settings.bootchooser == "sim":
        path = settings.sim_env_path(data_dir)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        return FileBootchooser(path)
    return UBootBootchooser(
        run, settings.helper_command("update-get-boot"), settings.helper_command("update-set-boot")
    )


def make_slot_writer(settings: UpdateSettings) -> SlotWriter:
    """The slot writer the settings name: the privileged helper, or direct file writes."""
    if settings.slot_writer == "file":
        return FileSlotWriter()
    return HelperSlotWriter(settings.helper_command("update-write-slot"))


def build_update_system(
    settings: UpdateSettings,
    *,
    data_dir: Path,
    audit: AuditSink,
    clock: Clock,
    running_version: str,
    reboot: RebootAction,
    run: CommandRunner = run_command,
) -> UpdateSystem:
    """Wire installer, confirmer and bootchooser (reads the keyring and slot sizes)."""
    state = StateStore(settings.state_path(data_dir))
    bootchooser = make_bootchooser(settings, data_dir, run)
    keyring = Keyring.load(settings.keyring)
    cmdline = settings.cmdline_path(data_dir)

    def booted() -> str | None:
        return read_booted_slot(cmdline)

    policy = InstallPolicy(
        board=settings.require_board(),
        running_version=running_version,
        allow_development=settings.allow_development,
    )
    installer = Installer(
        slots=settings.slot_table(),
        writer=make_slot_writer(settings),
        bootchooser=bootchooser,
        keyring=keyring,
        state=state,
        policy=policy,
        audit=audit,
        clock=clock,
        booted_slot=booted,
    )
    confirmer = BootConfirmer(
        bootchooser=bootchooser,
        state=state,
        audit=audit,
        clock=clock,
        booted_slot=booted,
        reboot=reboot,
    )
    return UpdateSystem(installer, confirmer, bootchooser, state, keyring, cmdline)
