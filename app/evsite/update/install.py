"""Install a bundle into the inactive slot: verify first, stream-write, then boot it on trial.

Order of events, each chosen so that a power cut at any point still boots
the running slot:

1. header: framing, signature, manifest, policy, slot sizes, bundle length
   (nothing written yet; a refusal here changes nothing at all);
2. the inactive side is marked unbootable;
3. each payload is read in 1 MiB chunks, hashed, and written (a writer
   thread overlaps the write with the hashing; memory stays constant),
   then flushed, fsynced and its SHA-256 compared;
4. the pending trial is recorded, then the side is set as the one-shot trial.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, Literal

from evsite.clock import Clock, iso_utc
from evsite.store.audit import AuditSink
from evsite.update.bootchooser import Bootchooser
from evsite.update.bundle import CHUNK_BYTES, VerifiedHeader, check_length, read_verified_header
from evsite.update.errors import BundleRejected, Reason, UpdateError
from evsite.update.keyring import Keyring
from evsite.update.manifest import PRODUCT, Manifest, PayloadInfo
from evsite.update.slot import Slot, SlotSink, SlotTable, SlotWriter
from evsite.update.state import Pending, StateStore
from evsite.update.version import parse_version

log = logging.getLogger("evsite.update")
QUEUE_CHUNKS = 4
Phase = Literal["verify", "write"]


@dataclass(frozen=True)
class Progress:
    """How far an install is: bytes done of total in the current phase."""

    phase: Phase
    done: int
    total: int
    payload: str = ""


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class InstallPolicy:
    """What this device accepts."""

    board: str
    running_version: str
    allow_development: bool = False
    product: str = PRODUCT


@dataclass(frozen=True)
class InstallResult:
    """A bundle written and set to boot once on trial."""

    slot: str
    version: str
    key_id: str
    manifest: Manifest


def check_policy(manifest: Manifest, policy: InstallPolicy, min_version: str) -> None:
    """Refuse a manifest this device must not install (product, board, build, versions)."""
    if manifest.product != policy.product:
        raise BundleRejected(
            Reason.WRONG_PRODUCT,
            f"bundle is for product {manifest.product[:40]!r}, this is {policy.product!r}",
        )
    if manifest.compatible != policy.board:
        raise BundleRejected(
            Reason.WRONG_BOARD,
            f"bundle is for board {manifest.compatible!r}, this is {policy.board!r}",
        )
    if manifest.build == "development" and not policy.allow_development:
        raise BundleRejected(
            Reason.DEVELOPMENT_BUILD,
            "bundle is a development build; this device takes release builds only",
        )
    if manifest.parsed_version < parse_version(min_version):
        raise BundleRejected(
            Reason.DOWNGRADE,
            f"version {manifest.version} is below this device's minimum {min_version}",
        )
    if parse_version(policy.running_version) < manifest.parsed_min_version:
        raise BundleRejected(
            Reason.RUNNING_TOO_OLD,
            f"bundle needs version {manifest.min_version} or later installed "
            f"first; this device runs {policy.running_version}",
        )


def check_slots(manifest: Manifest, group: dict[str, Slot] | None) -> None:
    """Refuse a manifest whose payloads do not match the target slots one to one, or do not fit."""
    have = set(group or {})
    want = {p.name for p in manifest.payloads}
    if have != want:
        raise BundleRejected(
            Reason.SLOT_MISMATCH,
            f"bundle carries {', '.join(sorted(want))}; this device's slots "
            f"are {', '.join(sorted(have)) or 'none'}",
        )
    assert group is not None
    for payload in manifest.payloads:
        slot = group[payload.name]
        if payload.size > slot.size:
            raise BundleRejected(
                Reason.PAYLOAD_TOO_LARGE_FOR_SLOT,
                f"payload {payload.name} is {payload.size} bytes; slot "
                f"{slot.name} holds {slot.size}",
            )


class Installer:
    """Installs bundles into the inactive slot and sets it as the one-shot trial boot."""

    def __init__(
        self,
        *,
        slots: SlotTable,
        writer: SlotWriter,
        bootchooser: Bootchooser,
        keyring: Keyring,
        state: StateStore,
        policy: InstallPolicy,
        audit: AuditSink,
        clock: Clock,
        booted_slot: Callable[[], str | None],
    ) -> None:
        self._slots = slots
        self._writer = writer
        self._bootchooser = bootchooser
        self._keyring = keyring
        self._state = state
        self._policy = policy
        self._audit = audit
        self._clock = clock
        self._booted_slot = booted_slot

    def check(self, stream: BinaryIO, length: int, target: str) -> VerifiedHeader:
        """Every check that needs no payload byte; raise BundleRejected on the first failure."""
        state = self._state.load()
        header = read_verified_header(stream, self._keyring, state.revoked_keys)
        check_length(header, length)
        check_policy(header.manifest, self._policy, state.min_version)
        revoked = {*state.revoked_keys, *header.manifest.revoked_keys}
        if not self._keyring.usable_ids(revoked):
            raise BundleRejected(
                Reason.REVOKES_ALL_KEYS, "bundle would revoke every key this device trusts"
            )
        check_slots(header.manifest, dict(self._slots.group(target)))
        return header

    def install(
        self,
        bundle: Path,
        *,
        progress: ProgressCallback | None = None,
        actor: str = "system",
        source: str = "",
    ) -> InstallResult:
        """Verify, write and set the trial boot; raise UpdateError (audited) when refused."""
        report = progress or (lambda _p: None)
        detail = {"file": bundle.name}
        try:
            with self._lock(), open(bundle, "rb") as stream:
                return self._install(stream, report, detail, actor, source)
        except UpdateError as exc:
            self._audit.record(
                "update.rejected",
                actor=actor,
                source=source,
                outcome="refused",
                detail={**detail, "reason": exc.reason.value, "message": exc.message},
            )
            raise
        except OSError as exc:
            self._audit.record(
                "update.rejected",
                actor=actor,
                source=source,
                outcome="error",
                detail={**detail, "reason": Reason.WRITE_FAILED.value, "message": str(exc)},
            )
            raise UpdateError(Reason.WRITE_FAILED, str(exc)) from exc

    @contextmanager
    def _lock(self) -> Iterator[None]:
        self._state.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self._state.dir / "install.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UpdateError(Reason.BUSY, "another install is running") from None
            yield

    def _install(
        self,
        stream: BinaryIO,
        report: ProgressCallback,
        detail: dict[str, str],
        actor: str,
        source: str,
    ) -> InstallResult:
        booted = self._booted_slot()
        if booted is None:
            raise UpdateError(
                Reason.BOOTED_SLOT_UNKNOWN,
                "cannot tell which slot is running (no evsite.slot= on the kernel command line)",
            )
        state = self._state.load()
        if state.pending is not None and state.pending.slot == booted:
            raise UpdateError(
                Reason.TRIAL_PENDING,
                f"slot {booted} runs on trial; it must be committed first, or the "
                "fallback slot would be overwritten",
            )
        target = self._slots.other(booted)
        length = os.fstat(stream.fileno()).st_size
        report(Progress("verify", 0, 1))
        header = self.check(stream, length, target)
        manifest = header.manifest
        detail.update(version=manifest.version, key_id=header.key_id, slot=target)
        report(Progress("verify", 1, 1))

        # From here on the target side is unbootable until the whole write checks out.
        self._bootchooser.mark_bad(target)
        if state.pending is not None:
            self._state.save(replace(state, pending=None))
        self._audit.record("update.install_started", actor=actor, source=source, detail=detail)
        group = self._slots.group(target)
        done = 0
        for payload in manifest.payloads:
            self._write_payload(
                stream, payload, group[payload.name], report, done, manifest.total_size
            )
            done += payload.size
        if stream.read(1):
            raise BundleRejected(Reason.TRAILING_DATA, "bundle grew while it was being installed")

        pending = Pending(
            slot=target,
            version=manifest.version,
            min_version=manifest.min_version,
            revoked_keys=manifest.revoked_keys,
            key_id=header.key_id,
            installed_at=iso_utc(self._clock.now()),
        )
        # Record the trial before arming it, so a boot into it always finds its record.
        self._state.save(replace(self._state.load(), pending=pending))
        self._bootchooser.set_trial(target)
        self._audit.record("update.installed", actor=actor, source=source, detail=detail)
        log.info("installed %s into slot %s; it boots once on trial", manifest.version, target)
        return InstallResult(target, manifest.version, header.key_id, manifest)

    def _write_payload(
        self,
        stream: BinaryIO,
        payload: PayloadInfo,
        slot: Slot,
        report: ProgressCallback,
        done_before: int,
        total: int,
    ) -> None:
        sink = self._writer.open(slot, payload.size)
        try:
            digest, seen = _stream_into(stream, payload, sink, report, done_before, total)
            seen_by_writer = sink.finish()
        except BaseException:
            sink.abort()
            raise
        if digest != payload.sha256 or seen_by_writer not in (None, payload.sha256):
            raise BundleRejected(
                Reason.PAYLOAD_HASH_MISMATCH,
                f"payload {payload.name} does not match its SHA-256; slot "
                f"{slot.name} stays unbootable",
            )
        log.info(
            "slot %s: %d bytes written and verified (%s bytes read)", slot.name, payload.size, seen
        )


def _stream_into(
    stream: BinaryIO,
    payload: PayloadInfo,
    sink: SlotSink,
    report: ProgressCallback,
    done_before: int,
    total: int,
) -> tuple[str, int]:
    """Copy payload.size bytes to the sink while hashing them; the sink writes in a thread."""
    chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUE_CHUNKS)
    failure: list[BaseException] = []

    def drain() -> None:
        while (chunk := chunks.get()) is not None:
            if failure:
                continue  # keep draining so the producer never blocks on a dead writer
            try:
                sink.write(chunk)
            except BaseException as exc:  # handed to the producer, which re-raises it
                failure.append(exc)

    writer = threading.Thread(target=drain, name=f"slot-writer-{payload.name}", daemon=True)
    writer.start()
    digest = hashlib.sha256()
    left = payload.size
    try:
        while left and not failure:
            chunk = stream.read(min(CHUNK_BYTES, left))
            if not chunk:
                raise BundleRejected(Reason.TRUNCATED, f"payload {payload.name} is cut short")
            chunks.put(chunk)
            # hashlib releases the GIL on big buffers: this runs while the writer writes.
            digest.update(chunk)
            left -= len(chunk)
            report(Progress("write", done_before + payload.size - left, total, payload.name))
    finally:
        chunks.put(None)
        writer.join()
    if failure:
        raise failure[0]
    return digest.hexdigest(), payload.size - left
