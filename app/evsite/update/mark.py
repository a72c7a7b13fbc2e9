"""Mark-good: after a boot, check health and commit the slot, or reject it and reboot.

At start-up the app calls `BootConfirmer.confirm()`. It first reconciles the
stored trial with the slot that actually booted (the boot script may have
fallen back on its own after a crash or hang: that trial is recorded as
rejected and audited), then runs the health probes within a time limit:

- trial slot healthy: mark good (counter reset, order committed), then raise
  the anti-rollback minimum and apply the bundle's revocations;
- trial slot unhealthy: mark bad, record and audit, reboot (back to the old slot);
- committed slot healthy: mark good (resets its counter for the next boot);
- committed slot unhealthy: audited, nothing changed (no reboot loop).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from evsite.clock import Clock, iso_utc
from evsite.store.audit import AuditSink
from evsite.update.bootchooser import Bootchooser
from evsite.update.state import Pending, Rejection, StateStore

log = logging.getLogger("evsite.update")
Probe = Callable[[], bool | Awaitable[bool]]
RebootAction = Callable[[], Awaitable[None] | None]


class Outcome(StrEnum):
    """What confirm / mark-good did."""

    COMMITTED = "committed"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    ROLLED_BACK = "rolled-back"
    UNHEALTHY = "unhealthy"
    AWAITING_REBOOT = "awaiting-reboot"


@dataclass(frozen=True)
class HealthReport:
    """The result of a health check: which probes never passed in time."""

    failed: tuple[str, ...]
    elapsed_s: float

    @property
    def ok(self) -> bool:
        """True when every probe passed."""
        return not self.failed


async def _probe_passes(name: str, probe: Probe) -> bool:
    try:
        result = probe()
        if inspect.isawaitable(result):
            result = await result
        return bool(result)
    except Exception as exc:  # a crashing probe is a failing probe, never a crashing check
        log.warning("health probe %s raised %r", name, exc)
        return False


async def run_health_check(
    probes: Mapping[str, Probe],
    *,
    clock: Clock,
    timeout_s: float,
    interval_s: float = 1.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> HealthReport:
    """Poll the probes until all have passed once, or the time limit is up."""
    started = clock.monotonic()
    waiting = dict(probes)
    while True:
        for name, probe in list(waiting.items()):
            if await _probe_passes(name, probe):
                del waiting[name]
        elapsed = clock.monotonic() - started
        if not waiting or elapsed >= timeout_s:
            return HealthReport(tuple(sorted(waiting)), elapsed)
        await sleep(min(interval_s, timeout_s - elapsed))


def port_listening(host: str, port: int, timeout_s: float = 2.0) -> Probe:
    """A probe: something accepts TCP connections on host:port."""

    async def probe() -> bool:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
        except (OSError, TimeoutError):
            return False
        writer.close()
        await writer.wait_closed()
        return True

    return probe


def is_mountpoint(path: Path) -> Probe:
    """A probe: `path` is a mount point (the data partition is mounted)."""
    return lambda: os.path.ismount(path)


class BootConfirmer:
    """Commits or rejects the booted slot; records and audits rollbacks."""

    def __init__(
        self,
        *,
        bootchooser: Bootchooser,
        state: StateStore,
        audit: AuditSink,
        clock: Clock,
        booted_slot: Callable[[], str | None],
        reboot: RebootAction,
    ) -> None:
        self._bootchooser = bootchooser
        self._state = state
        self._audit = audit
        self._clock = clock
        self._booted_slot = booted_slot
        self._reboot = reboot

    def _booted(self) -> str:
        booted = self._booted_slot()
        if booted is None:
            raise RuntimeError(
                "cannot tell which slot is running (no evsite.slot= on the kernel command line)"
            )
        return booted

    def _reject(self, pending: Pending, reason: str, event: str, actor: str) -> None:
        # Bootchooser first: a power cut before the state write only repeats this next boot.
        self._bootchooser.mark_bad(pending.slot)
        rejection = Rejection(pending.slot, pending.version, reason, iso_utc(self._clock.now()))
        self._state.save(replace(self._state.load(), pending=None, last_rejected=rejection))
        self._audit.record(
            event,
            actor=actor,
            outcome="failure",
            detail={"slot": pending.slot, "version": pending.version, "reason": reason},
        )
        log.warning("slot %s (version %s) rejected: %s", pending.slot, pending.version, reason)

    def reconcile(self, actor: str = "system") -> Outcome | None:
        """Settle a trial the boot script already decided; None when nothing needed settling."""
        booted = self._booted()
        pending = self._state.load().pending
        if pending is None or pending.slot == booted:
            return None
        boot = self._bootchooser.state()
        if boot.primary() == pending.slot:
            return Outcome.AWAITING_REBOOT
        if pending.slot in boot.order:
            reason = "trial boot did not reach mark-good (crash, hang or power loss)"
        else:
            reason = "install was interrupted before the trial boot was armed"
        self._reject(pending, reason, "update.rolled_back", actor)
        return Outcome.ROLLED_BACK

    def _commit(self, booted: str, actor: str) -> Outcome:
        state = self._state.load()
        # Bootchooser first: committing the state first and losing power would raise the
        # anti-rollback minimum while the old slot still boots.
        self._bootchooser.mark_good(booted)
        pending = state.pending
        if pending is None or pending.slot != booted:
            return Outcome.CONFIRMED
        self._state.save(state.committed(pending))
        self._audit.record(
            "update.committed",
            actor=actor,
            detail={
                "slot": booted,
                "version": pending.version,
                "min_version": pending.min_version,
                "revoked_keys": list(pending.revoked_keys),
            },
        )
        log.info("slot %s committed with version %s", booted, pending.version)
        return Outcome.COMMITTED

    async def confirm(
        self,
        probes: Mapping[str, Probe],
        *,
        timeout_s: float,
        interval_s: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> Outcome:
        """Reconcile, run the health check, then commit, or reject and reboot."""
        settled = self.reconcile()
        if settled is Outcome.AWAITING_REBOOT:
            return settled
        booted = self._booted()
        report = await run_health_check(
            probes, clock=self._clock, timeout_s=timeout_s, interval_s=interval_s, sleep=sleep
        )
        pending = self._state.load().pending
        on_trial = pending is not None and pending.slot == booted
        if report.ok:
            return self._commit(booted, "system")
        failed = ", ".join(report.failed)
        if pending is not None and on_trial:
            self._reject(pending, f"health check failed: {failed}", "update.rejected", "system")
            result = self._reboot()
            if inspect.isawaitable(result):
                await result
            return Outcome.REJECTED
        self._audit.record(
            "update.health_failed",
            outcome="failure",
            detail={"slot": booted, "failed": list(report.failed)},
        )
        return Outcome.UNHEALTHY

    def mark_good(self, actor: str = "system") -> Outcome:
        """Commit the booted slot now, without probes (an operator's explicit decision)."""
        settled = self.reconcile(actor)
        if settled is Outcome.AWAITING_REBOOT:
            return settled
        return self._commit(self._booted(), actor)
