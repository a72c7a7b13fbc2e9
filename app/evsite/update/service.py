"""The update service: one install at a time, in its own thread, for the web UI and the CSMS.

Both entry points of a signed update (the web upload and OCPP UpdateFirmware /
SignedUpdateFirmware) go through one `UpdateService`:

1. `reserve()` hands out the one file a bundle is received into (in the data
   directory, mode 0600), after checking that no other update is under way, that
   the announced size is within the limit and that the disk has room;
2. `submit()` runs `Installer.install` on that file in a background thread
   (it is blocking I/O: read, hash, write the slots) and keeps its progress;
3. `update_status()` tells the running version, the slots, the armed trial, the
   last rejection and the current job, for polling;
4. `reboot_into_update()` reboots into the armed trial slot.

Thread-safe: called from web worker threads and (through `asyncio.to_thread`
and `asyncio.wrap_future`) from the event loop. It holds no live state of the
loop, so it needs no scheduling onto it. The installer audits its own
rejections; this service audits what only it sees (an upload cut short or too
large, a reboot request).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Literal

from evsite.clock import Clock
from evsite.platform import PlatformError
from evsite.store.audit import AuditSink
from evsite.update.bootchooser import BootState
from evsite.update.errors import UpdateError
from evsite.update.install import InstallResult, Progress
from evsite.update.slot import BOOTNAMES
from evsite.update.system import UpdateSystem

log = logging.getLogger("evsite.update")

Origin = Literal["web", "ocpp"]
JobPhase = Literal["receiving", "verify", "write", "installed", "failed"]
OtherSlotState = Literal["fallback", "trial", "unbootable", "unknown"]
RefusalCode = Literal[
    "unavailable", "busy", "too-large", "no-space", "no-trial", "unknown-upload", "reboot-failed"
]
ACTIVE_PHASES: frozenset[str] = frozenset({"receiving", "verify", "write"})
UPLOAD_PREFIX = "incoming-"
# Room left on the data partition after a bundle: the database and logs keep working.
DEFAULT_RESERVE_BYTES = 64 * 1024 * 1024
BOOT_STATE_TTL_S = 5.0


class UpdateRefused(Exception):
    """An update request refused before any install began; the message is shown as is."""

    def __init__(self, code: RefusalCode, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class UpdateJob:
    """One update, from receiving its bundle to installed or failed."""

    job_id: int
    origin: Origin
    actor: str
    phase: JobPhase
    started_at: datetime
    done: int = 0  # bytes done in the current phase
    total: int = 0  # bytes in the current phase (0: unknown)
    file: str = ""  # the name the bundle came with, for display only
    version: str = ""  # once the manifest is verified
    slot: str = ""  # the slot written
    reason: str = ""  # failed: a stable reason code (evsite.update.errors.Reason or upload-*)
    message: str = ""  # failed: what to tell a person
    finished_at: datetime | None = None

    @property
    def active(self) -> bool:
        """Still receiving, verifying or writing."""
        return self.phase in ACTIVE_PHASES


@dataclass(frozen=True)
class LastRejection:
    """The last slot that was refused or rolled back, and why."""

    slot: str
    version: str
    reason: str
    at: str


@dataclass(frozen=True)
class UpdateStatus:
    """What the maintenance page shows about updates."""

    available: bool
    note: str  # why updates are unavailable ("" when available)
    running_version: str
    booted_slot: str | None
    other_slot: str | None
    other_slot_state: OtherSlotState
    other_slot_version: str | None
    min_version: str
    reboot_pending: bool  # a trial is armed: the next boot tries it
    pending_version: str | None
    last_rejection: LastRejection | None
    job: UpdateJob | None  # the current or the last update since start
    max_upload_bytes: int


def free_bytes(path: Path) -> int:
    """Free space on the file system holding `path`."""
    return shutil.disk_usage(path).free


class UpdateService:
    """Receives bundles into the data directory and installs them one at a time."""

    def __init__(
        self,
        system: UpdateSystem,
        *,
        work_dir: Path,
        clock: Clock,
        audit: AuditSink,
        reboot: Callable[[], None],
        running_version: str,
        max_bundle_bytes: int,
        reserve_bytes: int = DEFAULT_RESERVE_BYTES,
        free_space: Callable[[Path], int] = free_bytes,
    ) -> None:
        self._system = system
        self._dir = work_dir
        self._clock = clock
        self._audit = audit
        self._reboot = reboot
        self._running_version = running_version
        self._max = max_bundle_bytes
        self._reserve = reserve_bytes
        self._free_space = free_space
        self._lock = threading.Lock()
        self._job: UpdateJob | None = None
        self._upload: Path | None = None
        self._next_id = 1
        self._boot: tuple[float, BootState | None] | None = None
        self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._remove_leftovers()

    @property
    def max_bundle_bytes(self) -> int:
        """The largest bundle accepted (uploads and downloads alike)."""
        return self._max

    # --- receiving ------------------------------------------------------------

    def reserve(
        self, origin: Origin, size: int, *, actor: str, source: str = "", name: str = ""
    ) -> Path:
        """The new, empty file to receive a bundle of `size` bytes (0: unknown) into.

        Raises UpdateRefused when another update is under way, the size is over the
        limit, or the disk lacks room. The caller must hand the file to `submit()`
        or give it back with `abandon()`.
        """
        with self._lock:
            if self._job is not None and self._job.active:
                raise UpdateRefused("busy", _busy_message(self._job))
            if size > self._max:
                raise UpdateRefused(
                    "too-large",
                    f"the bundle is {size} bytes; this device takes at most {self._max}",
                )
            free = self._free_space(self._dir)
            if size and size + self._reserve > free:
                raise UpdateRefused(
                    "no-space",
                    f"the bundle needs {size} bytes; the data partition has {free} free",
                )
            fd, raw = tempfile.mkstemp(prefix=UPLOAD_PREFIX, suffix=".bundle", dir=self._dir)
            os.close(fd)
            self._upload = Path(raw)
            self._job = UpdateJob(
                self._next_id,
                origin,
                actor,
                "receiving",
                self._clock.now(),
                total=size,
                file=_display_name(name),
            )
            self._next_id += 1
        log.info("receiving an update bundle (%s, %d bytes) from %s", origin, size, actor)
        return self._upload

    def received(self, upload: Path, done: int, total: int = 0) -> None:
        """Progress of receiving (for downloads the page cannot see otherwise)."""
        with self._lock:
            if self._upload == upload and self._job is not None:
                self._job = replace(self._job, done=done, total=total or self._job.total)

    def abandon(self, upload: Path, reason: str, message: str, *, source: str = "") -> None:
        """Give a reserved file back unused: delete it, record and audit why."""
        with self._lock:
            job = self._job if self._upload == upload else None
            if job is not None:
                self._job = replace(
                    job,
                    phase="failed",
                    reason=reason,
                    message=message,
                    finished_at=self._clock.now(),
                )
                self._upload = None
        with contextlib.suppress(FileNotFoundError):
            upload.unlink()
        if job is not None:
            self._audit.record(
                "update.upload_failed",
                actor=job.actor,
                source=source,
                outcome="refused",
                detail={"origin": job.origin, "reason": reason, "message": message[:200]},
            )
            log.warning("update bundle not received (%s): %s", reason, message)

    # --- installing -------------------------------------------------------------

    def submit(
        self, upload: Path, *, actor: str, source: str = ""
    ) -> concurrent.futures.Future[InstallResult]:
        """Install the received file in a background thread; the file is deleted afterwards.

        The future holds the InstallResult, or the UpdateError the installer raised
        (already audited by it).
        """
        with self._lock:
            if self._upload != upload or self._job is None:
                raise UpdateRefused("unknown-upload", "this upload was not reserved or has ended")
            self._upload = None
            self._job = replace(self._job, phase="verify", done=0, total=0)
            job_id = self._job.job_id
        future: concurrent.futures.Future[InstallResult] = concurrent.futures.Future()
        future.set_running_or_notify_cancel()
        thread = threading.Thread(
            target=self._install,
            args=(upload, job_id, actor, source, future),
            name="update-install",
            daemon=True,
        )
        thread.start()
        return future

    def _install(
        self,
        upload: Path,
        job_id: int,
        actor: str,
        source: str,
        future: concurrent.futures.Future[InstallResult],
    ) -> None:
        def progress(p: Progress) -> None:
            self._update(job_id, phase=p.phase, done=p.done, total=p.total)

        result: InstallResult | None = None
        error: BaseException | None = None
        try:
            result = self._system.installer.install(
                upload, progress=progress, actor=actor, source=source
            )
        except UpdateError as exc:
            error = exc
            self._update(
                job_id,
                phase="failed",
                reason=exc.reason.value,
                message=exc.message,
                finished_at=self._clock.now(),
            )
        except BaseException as exc:
            error = exc
            # A bug, not a refusal: the page says so and the log has the traceback.
            log.exception("update install failed unexpectedly")
            self._update(
                job_id,
                phase="failed",
                reason="internal-error",
                message="the install failed unexpectedly; see the device log",
                finished_at=self._clock.now(),
            )
            self._audit.record(
                "update.rejected",
                actor=actor,
                source=source,
                outcome="error",
                detail={"reason": "internal-error", "message": repr(exc)[:200]},
            )
        else:
            self._update(
                job_id,
                phase="installed",
                version=result.version,
                slot=result.slot,
                finished_at=self._clock.now(),
            )
        # Clean up before anyone waiting on the future hears the outcome.
        with contextlib.suppress(FileNotFoundError):
            upload.unlink()
        with self._lock:
            self._boot = None  # the install changed the boot order
        if result is not None:
            future.set_result(result)
        else:
            assert error is not None
            future.set_exception(error)

    def _update(self, job_id: int, **changes: object) -> None:
        with self._lock:
            if self._job is not None and self._job.job_id == job_id:
                self._job = replace(self._job, **changes)  # type: ignore[arg-type]

    # --- web-facing (evsite.web.facade.UpdateActions) ----------------------------

    def update_status(self) -> UpdateStatus:
        """The running version, the slots, the armed trial, the last rejection, the job."""
        booted = self._system.booted_slot()
        state = self._system.state.load()
        boot = self._boot_state()
        other = _other(booted)
        pending = state.pending
        reboot_pending = (
            pending is not None
            and pending.slot != booted
            and boot is not None
            and boot.primary() == pending.slot
        )
        rejected = state.last_rejected
        with self._lock:
            job = self._job
        return UpdateStatus(
            available=True,
            note="",
            running_version=self._running_version,
            booted_slot=booted,
            other_slot=other,
            other_slot_state=_slot_state(other, boot, pending.slot if pending else None),
            other_slot_version=(
                pending.version
                if pending is not None and pending.slot == other
                else state.versions.get(other)
                if other
                else None
            ),
            min_version=state.min_version,
            reboot_pending=reboot_pending,
            pending_version=pending.version if pending is not None else None,
            last_rejection=(
                LastRejection(rejected.slot, rejected.version, rejected.reason, rejected.at)
                if rejected is not None
                else None
            ),
            job=job,
            max_upload_bytes=self._max,
        )

    def update_job(self) -> UpdateJob | None:
        """The current or last job (cheap: for polling)."""
        with self._lock:
            return self._job

    def begin_update_upload(self, size: int, *, actor: str, source: str, name: str = "") -> Path:
        """Reserve the file a web upload of `size` bytes streams into."""
        return self.reserve("web", size, actor=actor, source=source, name=name)

    def start_update(self, upload: Path, *, actor: str, source: str) -> UpdateJob:
        """Install a completely received upload in the background; return the job."""
        self.submit(upload, actor=actor, source=source)
        job = self.update_job()
        assert job is not None
        return job

    def abort_update_upload(self, upload: Path, reason: str, message: str, *, source: str) -> None:
        """An upload failed while being received: delete it, record and audit why."""
        self.abandon(upload, reason, message, source=source)

    def reboot_into_update(self, *, actor: str, source: str) -> None:
        """Reboot into the armed trial slot; UpdateRefused when none is armed."""
        with self._lock:
            self._boot = None
            job = self._job
        if job is not None and job.active:
            raise UpdateRefused("busy", _busy_message(job))
        status = self.update_status()
        if not status.reboot_pending:
            raise UpdateRefused(
                "no-trial", "no new version is waiting to be tried; install one first"
            )
        self._audit.record(
            "update.reboot_requested",
            actor=actor,
            source=source,
            detail={"slot": status.other_slot, "version": status.pending_version},
        )
        log.info("rebooting into slot %s (%s)", status.other_slot, status.pending_version)
        try:
            self._reboot()
        except PlatformError as exc:
            # The trial stays armed: the next reboot, however it comes, tries the update.
            self._audit.record(
                "update.reboot_failed", actor=actor, source=source, detail={"error": str(exc)}
            )
            raise UpdateRefused(
                "reboot-failed",
                f"the device did not reboot ({exc}); the new version is tried at the next start",
            ) from None
        with self._lock:
            self._boot = None

    # --- helpers ------------------------------------------------------------------

    def _boot_state(self) -> BootState | None:
        # On the device this runs a privileged helper: not on every poll of the page.
        now = self._clock.monotonic()
        with self._lock:
            cached = self._boot
        if cached is not None and now - cached[0] < BOOT_STATE_TTL_S:
            return cached[1]
        try:
            boot: BootState | None = self._system.bootchooser.state()
        except (OSError, RuntimeError, ValueError) as exc:
            log.warning("cannot read the boot state: %s", exc)
            boot = None
        with self._lock:
            self._boot = (now, boot)
        return boot

    def _remove_leftovers(self) -> None:
        # A bundle half received when the power went is of no use to anyone.
        for stale in self._dir.glob(f"{UPLOAD_PREFIX}*"):
            with contextlib.suppress(OSError):
                stale.unlink()


class UnavailableUpdates:
    """The update actions of a device without a working update system: each says why."""

    def __init__(self, note: str, running_version: str) -> None:
        self._note = note
        self._running_version = running_version

    def update_status(self) -> UpdateStatus:
        """Unavailable, with the reason."""
        return UpdateStatus(
            available=False,
            note=self._note,
            running_version=self._running_version,
            booted_slot=None,
            other_slot=None,
            other_slot_state="unknown",
            other_slot_version=None,
            min_version="0",
            reboot_pending=False,
            pending_version=None,
            last_rejection=None,
            job=None,
            max_upload_bytes=0,
        )

    def update_job(self) -> UpdateJob | None:
        """Never a job."""
        return None

    def begin_update_upload(self, size: int, *, actor: str, source: str, name: str = "") -> Path:
        """Refused."""
        raise UpdateRefused("unavailable", self._note)

    def start_update(self, upload: Path, *, actor: str, source: str) -> UpdateJob:
        """Refused."""
        raise UpdateRefused("unavailable", self._note)

    def abort_update_upload(self, upload: Path, reason: str, message: str, *, source: str) -> None:
        """Nothing was reserved; remove the file if there is one."""
        with contextlib.suppress(FileNotFoundError):
            upload.unlink()

    def reboot_into_update(self, *, actor: str, source: str) -> None:
        """Refused."""
        raise UpdateRefused("unavailable", self._note)


def _busy_message(job: UpdateJob) -> str:
    what = {"receiving": "being received", "verify": "being verified", "write": "being written"}
    by = "the CSMS" if job.origin == "ocpp" else job.actor
    return f"another update is {what.get(job.phase, 'under way')} (started by {by})"


def _display_name(name: str) -> str:
    # Shown on a page and written to the audit log: printable, short, no path.
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(c for c in base if c.isprintable())[:120]


def _other(booted: str | None) -> str | None:
    if booted not in BOOTNAMES:
        return None
    return next(b for b in BOOTNAMES if b != booted)


def _slot_state(
    other: str | None, boot: BootState | None, pending_slot: str | None
) -> OtherSlotState:
    if other is None or boot is None:
        return "unknown"
    if pending_slot == other and boot.primary() == other:
        return "trial"
    if other in boot.order and boot.left.get(other, 0) > 0:
        return "fallback"
    return "unbootable"  # empty, refused, rolled back, or being written
