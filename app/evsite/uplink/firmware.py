"""The controller updating itself when its CSMS asks: UpdateFirmware and SignedUpdateFirmware.

These reach the controller's own upstream identity (`uplink.controller_id`),
not a station. The answer goes at once; the work runs in a task:

1. wait for the retrieve time (signed: DownloadScheduled);
2. Downloading: fetch the https:// location (firmware_fetch: CA bank of the
   uplink, bounded, streamed into the file the update service reserved), with
   the request's retries; DownloadFailed when they are used up;
3. Downloaded; signed: the OCPP signature over the file (InvalidSignature, or
   SignatureVerified); wait for the install time (InstallScheduled);
4. Installing: the same `Installer` as the web upload (through the update
   service, one update at a time); our bundle signature is the authority;
5. Installed, or InstallationFailed / InstallVerificationFailed (signed) with
   the installer's reason in the audit log;
6. the reboot is left to the CSMS's Reset, unless `[firmware] auto_reboot`
   (signed: InstallRebooting first, once the notifications are delivered).

Status notifications go through the controller identity's outbox (journaled,
in order, re-sent after an outage). A second request while a download is
under way replaces it (signed: AcceptedCanceled); while an install runs it is
refused. Reset to the controller reboots it (into the trial when one is armed).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
import logging
import ssl
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from evsite.clock import Clock
from evsite.config_errors import ConfigError
from evsite.ocpp.frames import GENERIC_ERROR, Call, FrameError, encode_error, encode_result
from evsite.ocpp.frames import validate_payload as validate
from evsite.platform import PlatformError
from evsite.store.audit import AuditSink
from evsite.update.errors import Reason, UpdateError
from evsite.update.install import InstallResult
from evsite.update.service import Origin, UpdateRefused
from evsite.uplink.firmware_fetch import (
    FetchCancelled,
    Fetched,
    FetchError,
    SigningCertificateError,
    check_signing_certificate,
    fetch,
    load_signing_roots,
    redact,
    signature_matches,
)
from evsite.uplink.outbox import Outbox
from evsite.uplink.service import Uplink
from evsite.uplink.tls import client_context

log = logging.getLogger("evsite.uplink")
ACTIONS = frozenset({"UpdateFirmware", "SignedUpdateFirmware", "Reset"})
# Installer reasons that mean "the file is not what it claims": InstallVerificationFailed.
VERIFICATION_REASONS = frozenset(
    {
        Reason.BAD_MAGIC,
        Reason.TRUNCATED,
        Reason.TRAILING_DATA,
        Reason.MANIFEST_TOO_LARGE,
        Reason.MALFORMED_SIGNATURE,
        Reason.BAD_SIGNATURE,
        Reason.UNKNOWN_KEY,
        Reason.REVOKED_KEY,
        Reason.MALFORMED_MANIFEST,
        Reason.PAYLOAD_HASH_MISMATCH,
    }
)
DELIVERY_WAIT_S = 30.0


class Updates(Protocol):
    """What the update service offers this entry point (evsite.update.service.UpdateService)."""

    @property
    def max_bundle_bytes(self) -> int:
        """The largest bundle accepted."""
        ...

    def reserve(
        self, origin: Origin, size: int, *, actor: str, source: str = "", name: str = ""
    ) -> Path:
        """The file to receive a bundle into; UpdateRefused when busy."""
        ...

    def received(self, upload: Path, done: int, total: int = 0) -> None:
        """Receiving progress."""
        ...

    def abandon(self, upload: Path, reason: str, message: str, *, source: str = "") -> None:
        """Give the file back unused."""
        ...

    def submit(
        self, upload: Path, *, actor: str, source: str = ""
    ) -> concurrent.futures.Future[InstallResult]:
        """Install in a background thread."""
        ...

    def reboot_into_update(self, *, actor: str, source: str) -> None:
        """Reboot into the armed trial; UpdateRefused when none is armed."""
        ...


Notify = Callable[[str, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class FirmwareSettings:
    """The `[firmware]` table: how the controller takes updates from its CSMS."""

    auto_reboot: bool = False  # reboot into the new version right after Installed
    signing_ca: Path | None = None  # PEM: issuers accepted for the OCPP signingCertificate
    timeout_s: float = 60.0  # connect and per-read timeout of the download


def parse_firmware_settings(raw: Mapping[str, Any]) -> FirmwareSettings:
    """Validate the `[firmware]` table; ConfigError names the first bad key."""
    table = raw.get("firmware", {})
    if not isinstance(table, Mapping):
        raise ConfigError("firmware", "must be a table")
    unknown = sorted(set(table) - {"auto_reboot", "signing_ca", "timeout_s"})
    if unknown:
        raise ConfigError(f"firmware.{unknown[0]}", "unknown setting")
    auto = table.get("auto_reboot", False)
    if not isinstance(auto, bool):
        raise ConfigError("firmware.auto_reboot", "must be true or false")
    ca = table.get("signing_ca")
    if ca is not None and (not isinstance(ca, str) or not ca):
        raise ConfigError("firmware.signing_ca", "must be the path of a PEM file")
    timeout = table.get("timeout_s", 60.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 1 <= timeout <= 600:
        raise ConfigError("firmware.timeout_s", "must be a number of seconds in 1..600")
    return FirmwareSettings(auto, Path(ca) if ca else None, float(timeout))


@dataclass(frozen=True)
class FirmwareRequest:
    """One UpdateFirmware or SignedUpdateFirmware, parsed."""

    location: str
    retrieve_at: datetime
    install_at: datetime | None = None
    retries: int = 0
    retry_interval_s: float = 60.0
    request_id: int | None = None  # set: the signed variant
    signing_certificate: str = ""
    signature: str = ""

    @property
    def signed(self) -> bool:
        """The security-extension variant (SignedUpdateFirmware)."""
        return self.request_id is not None


def parse_request(call: Call) -> FirmwareRequest:
    """The request's fields (the payload was validated against its schema)."""
    p = call.payload
    retries = max(0, min(int(p.get("retries", 0)), 10))
    interval = float(max(1, min(int(p.get("retryInterval", 60)), 86400)))
    if call.action == "UpdateFirmware":
        return FirmwareRequest(
            str(p["location"]), _when(p["retrieveDate"]), None, retries, interval
        )
    fw = p["firmware"]
    return FirmwareRequest(
        str(fw["location"]),
        _when(fw["retrieveDateTime"]),
        _when(fw["installDateTime"]) if "installDateTime" in fw else None,
        retries,
        interval,
        int(p["requestId"]),
        str(fw["signingCertificate"]),
        str(fw["signature"]),
    )


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


class OutboxNotifier:
    """Sends the controller's notifications through its outbox: journaled, in order."""

    def __init__(
        self, outbox: Outbox, identity: str, kick: Callable[[], None], clock: Clock
    ) -> None:
        self._outbox = outbox
        self._identity = identity
        self._kick = kick
        self._base = int(clock.now().timestamp() * 1000)
        self._count = 0

    async def __call__(self, action: str, payload: dict[str, Any]) -> None:
        """Journal one request of the controller identity and wake its channel."""
        self._count += 1
        unique_id = f"evs-fw-{self._base}-{self._count}"
        frame = json.dumps([2, unique_id, action, payload], separators=(",", ":"))
        await self._outbox.add(self._identity, unique_id, action, frame)
        self._kick()

    def delivered(self) -> bool:
        """Nothing of the controller identity waits in the outbox."""
        return self._outbox.pending_count(self._identity) == 0


class ControllerFirmware:
    """Answers UpdateFirmware / SignedUpdateFirmware / Reset for the controller identity."""

    def __init__(
        self,
        updates: Updates,
        notify: Notify,
        *,
        identity: str,
        tls: Callable[[], ssl.SSLContext],
        audit: AuditSink,
        clock: Clock,
        settings: FirmwareSettings,
        reboot: Callable[[], None] | None = None,
        delivered: Callable[[], bool] = lambda: True,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._updates = updates
        self._notify = notify
        self._identity = identity
        self._tls = tls
        self._audit = audit
        self._clock = clock
        self._settings = settings
        self._roots = load_signing_roots(settings.signing_ca)
        self._reboot = reboot
        self._delivered = delivered
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None
        self._cancel = threading.Event()
        self._installing = False
        self._background: set[asyncio.Task[None]] = set()

    @property
    def busy(self) -> bool:
        """A request is being worked on."""
        return self._task is not None and not self._task.done()

    async def wait_idle(self) -> None:
        """Wait until the current request is finished (for tests and shutdown)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def handle(self, call: Call) -> str | None:
        """The reply to a CSMS request to the controller; None for actions not handled here."""
        if call.action not in ACTIONS:
            return None
        try:
            validate(call.action, call.payload)
        except FrameError as exc:
            return encode_error(call.unique_id, exc.code, exc.description)
        if call.action == "Reset":
            return self._reset(call)
        request = parse_request(call)
        self._audit.record(
            "uplink.firmware_requested",
            actor=self._identity,
            source="csms",
            detail={
                "action": call.action,
                "location": redact(request.location),
                "request_id": request.request_id,
            },
        )
        if request.signed:
            try:
                check_signing_certificate(
                    request.signing_certificate, self._clock.now(), self._roots
                )
            except SigningCertificateError as exc:
                self._refuse_event(
                    "uplink.firmware_invalid_certificate",
                    "InvalidFirmwareSigningCertificate",
                    str(exc),
                )
                return encode_result(call.unique_id, {"status": "InvalidCertificate"})
        if self._installing:
            if request.signed:
                return encode_result(call.unique_id, {"status": "Rejected"})
            return encode_error(call.unique_id, GENERIC_ERROR, "an update is being installed")
        replaced = self.busy
        if replaced:
            await self._stop_current()
        self._cancel = threading.Event()
        self._task = asyncio.create_task(self._run(request, self._cancel))
        if request.signed:
            status = "AcceptedCanceled" if replaced else "Accepted"
            return encode_result(call.unique_id, {"status": status})
        return encode_result(call.unique_id, {})

    # --- the request's life -----------------------------------------------------------

    async def _status(self, request: FirmwareRequest, status: str) -> None:
        if request.signed:
            payload: dict[str, Any] = {"status": status, "requestId": request.request_id}
            await self._notify("SignedFirmwareStatusNotification", payload)
        else:
            await self._notify("FirmwareStatusNotification", {"status": status})

    async def _wait_until(self, moment: datetime) -> None:
        delay = (moment - self._clock.now()).total_seconds()
        if delay > 0:
            await self._sleep(delay)

    async def _run(self, request: FirmwareRequest, cancel: threading.Event) -> None:
        try:
            if request.retrieve_at > self._clock.now():
                if request.signed:
                    await self._status(request, "DownloadScheduled")
                await self._wait_until(request.retrieve_at)
            fetched = await self._download(request, cancel)
            if fetched is None:
                return
            upload, result = fetched
            await self._status(request, "Downloaded")
            if request.signed and not await self._signature_ok(request, upload, result):
                return
            if request.install_at is not None and request.install_at > self._clock.now():
                await self._status(request, "InstallScheduled")
                await self._wait_until(request.install_at)
            await self._install(request, upload)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: firmware request failed", self._identity)

    async def _download(
        self, request: FirmwareRequest, cancel: threading.Event
    ) -> tuple[Path, Fetched] | None:
        reason = ""
        for attempt in range(request.retries + 1):
            if attempt:
                await self._sleep(request.retry_interval_s)
            await self._status(request, "Downloading")
            try:
                upload = self._updates.reserve(
                    "ocpp", 0, actor=self._identity, source="csms", name=_name(request.location)
                )
            except UpdateRefused as exc:
                reason = exc.message
                continue
            try:
                fetched = await asyncio.to_thread(
                    fetch,
                    request.location,
                    upload,
                    context=self._tls(),
                    limit=self._updates.max_bundle_bytes,
                    timeout_s=self._settings.timeout_s,
                    cancelled=cancel,
                    progress=functools.partial(self._updates.received, upload),
                )
            except FetchCancelled:
                self._updates.abandon(upload, "download-cancelled", "replaced by a newer request")
                return None
            except FetchError as exc:
                reason = str(exc)
                self._updates.abandon(upload, "download-failed", reason, source="csms")
                continue
            except asyncio.CancelledError:
                cancel.set()
                self._updates.abandon(upload, "download-cancelled", "replaced by a newer request")
                raise
            return upload, fetched
        log.warning("%s: firmware download failed: %s", self._identity, reason)
        self._audit.record(
            "uplink.firmware_download_failed",
            actor=self._identity,
            source="csms",
            outcome="failure",
            detail={"location": redact(request.location), "reason": reason[:200]},
        )
        await self._status(request, "DownloadFailed")
        return None

    async def _signature_ok(self, request: FirmwareRequest, upload: Path, got: Fetched) -> bool:
        cert = check_signing_certificate(
            request.signing_certificate, self._clock.now(), self._roots
        )
        if signature_matches(cert, request.signature, got.sha256):
            await self._status(request, "SignatureVerified")
            return True
        self._updates.abandon(
            upload, "invalid-signature", "the OCPP firmware signature does not match the file"
        )
        self._refuse_event(
            "uplink.firmware_invalid_signature",
            "InvalidFirmwareSignature",
            "the OCPP firmware signature does not match the file",
        )
        await self._status(request, "InvalidSignature")
        return False

    async def _install(self, request: FirmwareRequest, upload: Path) -> None:
        await self._status(request, "Installing")
        self._installing = True
        try:
            future = self._updates.submit(upload, actor=self._identity, source="csms")
            try:
                await asyncio.wrap_future(future)
            except UpdateError as exc:
                failed = (
                    "InstallVerificationFailed"
                    if request.signed and exc.reason in VERIFICATION_REASONS
                    else "InstallationFailed"
                )
                await self._status(request, failed)
                return
            except Exception:
                await self._status(request, "InstallationFailed")
                return
        finally:
            self._installing = False
        await self._status(request, "Installed")
        if self._settings.auto_reboot:
            if request.signed:
                await self._status(request, "InstallRebooting")
            await self._reboot_when_delivered()

    async def _reboot_when_delivered(self) -> None:
        # Give the CSMS the last status before the link goes down with the device.
        waited = 0.0
        while not self._delivered() and waited < DELIVERY_WAIT_S:
            await self._sleep(0.2)
            waited += 0.2
        try:
            await asyncio.to_thread(
                self._updates.reboot_into_update, actor=self._identity, source="csms"
            )
        except UpdateRefused as exc:
            log.warning("%s: no reboot after the install: %s", self._identity, exc.message)

    # --- Reset -------------------------------------------------------------------------

    def _reset(self, call: Call) -> str:
        if self._reboot is None or self._installing:
            return encode_result(call.unique_id, {"status": "Rejected"})
        kind = str(call.payload.get("type", ""))
        task = asyncio.create_task(self._reset_later(kind))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return encode_result(call.unique_id, {"status": "Accepted"})

    async def _reset_later(self, kind: str) -> None:
        await self._sleep(0.5)  # let the Accepted reach the CSMS first
        try:
            await asyncio.to_thread(
                self._updates.reboot_into_update, actor=self._identity, source="csms"
            )
            return
        except UpdateRefused as exc:
            if exc.code == "reboot-failed":
                log.error("%s: Reset accepted, but %s", self._identity, exc.message)
                return
            # Otherwise no trial is armed: a plain reboot.
        self._audit.record(
            "uplink.controller_reset", actor=self._identity, source="csms", detail={"type": kind}
        )
        assert self._reboot is not None
        try:
            await asyncio.to_thread(self._reboot)
        except PlatformError as exc:
            log.error("%s: Reset accepted, but the device did not reboot: %s", self._identity, exc)
            self._audit.record(
                "uplink.controller_reset",
                outcome="failed",
                actor=self._identity,
                source="csms",
                detail={"type": kind, "error": str(exc)},
            )

    # --- helpers --------------------------------------------------------------------

    async def _stop_current(self) -> None:
        self._cancel.set()
        task = self._task
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _refuse_event(self, event: str, ocpp_type: str, reason: str) -> None:
        # uplink.* events carrying a "type" go to the CSMS as that security event type.
        self._audit.record(
            event,
            actor=self._identity,
            source="csms",
            outcome="refused",
            detail={"type": ocpp_type, "reason": reason[:200]},
        )


def _name(location: str) -> str:
    return redact(location).rsplit("/", 1)[-1]


def attach_controller_firmware(
    uplink: Uplink,
    updates: Updates,
    *,
    audit: AuditSink,
    clock: Clock,
    settings: FirmwareSettings,
    reboot: Callable[[], None] | None = None,
) -> ControllerFirmware | None:
    """Serve firmware requests (and Reset) to the controller identity; None when it has none."""
    identity = uplink.settings.controller_id
    if not identity:
        return None

    def kick() -> None:
        channel = uplink.channel(identity)
        if channel is not None:
            channel.kick()

    notifier = OutboxNotifier(uplink.outbox, identity, kick, clock)
    firmware = ControllerFirmware(
        updates,
        notifier,
        identity=identity,
        tls=lambda: client_context(uplink.settings.ca_bank, uplink.settings.system_cas),
        audit=audit,
        clock=clock,
        settings=settings,
        reboot=reboot,
        delivered=notifier.delivered,
    )
    uplink.serve_controller(firmware.handle)
    return firmware
