"""An in-memory SiteFacade for tests, benchmarks and the standalone UI demo."""

from __future__ import annotations

import json
import math
import secrets
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import evsite
from evsite.clock import Clock, iso_utc
from evsite.store.audit import GENESIS, AuditRecord, chain_hash
from evsite.update.service import UnavailableUpdates
from evsite.web.facade import (
    AddressSeen,
    Badge,
    BadgeGroup,
    ChargeSession,
    CommandResult,
    ConnectorState,
    EnrolledStation,
    FacadeError,
    PendingStation,
    ResetKind,
    SessionPage,
    SessionQuery,
    SiteLimit,
    SitePoint,
    SiteSnapshot,
    SshState,
    StationSnapshot,
    UpdateActions,
    UpdateJob,
    UpdateStatus,
)

_SETTINGS: dict[str, dict[str, Any]] = {
    "network": {"hostname": "evsite", "dhcp": True, "address": "", "gateway": ""},
    "ocpp": {"port": 8887, "security_profile": 2, "heartbeat_s": 300},
    "load_management": {"site_limit_a": 63.0, "fallback_limit_a": 16.0, "stale_meter_s": 10},
    "meters": {"bus": "rtu", "device": "/dev/ttyAMA0", "baud": 9600, "model": "sdm630"},
    "ems": {"modbus_enabled": False, "modbus_port": 502, "watchdog_s": 60},
    "csms": {"mode": "standalone", "url": ""},
}


def _check_field(value: Any, text: str) -> str:
    """Return an error when `text` does not parse as the type of `value`."""
    if isinstance(value, bool):
        return "" if text in ("true", "false") else "must be true or false"
    if isinstance(value, int):
        return "" if text.lstrip("-").isdigit() else "must be a whole number"
    if isinstance(value, float):
        try:
            number = float(text)
        except ValueError:
            return "must be a number"
        return "" if number >= 0 else "must not be negative"
    return ""


def _parse_field(value: Any, text: str) -> Any:
    if isinstance(value, bool):
        return text == "true"
    if isinstance(value, int):
        return int(text)
    if isinstance(value, float):
        return float(text)
    return text


class FakeFacade:
    """A site with made-up stations, sessions and badges; records every command."""

    def __init__(
        self,
        clock: Clock,
        stations: int = 3,
        sessions: int = 20,
        updates: UpdateActions | None = None,
    ) -> None:
        self._clock = clock
        # Updates are the real thing when a test composes an UpdateService in (file slots,
        # simulated bootchooser); the demo site has none.
        self.updates: UpdateActions = updates or UnavailableUpdates(
            "updates are not part of the demo site", evsite.__version__
        )
        self._lock = threading.RLock()
        now = clock.now()
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.setup_window = False
        # Set to a reason to have the device refuse its actions, as a failing helper does.
        self.device_refuses: str | None = None
        self.power_w = 7400.0
        self._settings = {k: dict(v) for k, v in _SETTINGS.items()}
        self._limit = SiteLimit(63.0, "configured", None)
        self._ssh = SshState(False, None)
        self._audit: list[AuditRecord] = []
        self._enrolled: dict[str, EnrolledStation] = {}
        for n in range(1, stations + 1):
            sid = f"CP{n:04d}"
            seen = AddressSeen(f"192.168.10.{n % 250 + 2}", now - timedelta(days=3), now)
            self._enrolled[sid] = EnrolledStation(sid, now - timedelta(days=30), (seen,))
        self._pending: dict[str, PendingStation] = {
            "NEW-STATION-1": PendingStation(
                "NEW-STATION-1", "192.168.10.77", "connection", now, now, 3
            )
        }
        self._badges: dict[str, Badge] = {
            "04A1B2C3": Badge("04A1B2C3", "Alice", "staff", vip=True),
            "04D4E5F6": Badge("04D4E5F6", "Bob", "staff"),
        }
        self._groups: dict[str, BadgeGroup] = {"staff": BadgeGroup("staff", "local_first")}
        ids = list(self._enrolled) or ["CP0001"]
        self._sessions = [
            ChargeSession(
                session_id=n,
                station_id=ids[n % len(ids)],
                connector_id=1,
                badge="04A1B2C3" if n % 2 else "04D4E5F6",
                started=now - timedelta(minutes=30 * (sessions - n + 1)),
                stopped=now - timedelta(minutes=30 * (sessions - n + 1) - 25),
                energy_wh=1000.0 + n % 17 * 350,
                stop_reason="EVDisconnected",
            )
            for n in range(1, sessions + 1)
        ]
        self._sessions.reverse()  # newest first, as queries return them

    # --- site

    def site_snapshot(self) -> SiteSnapshot:
        """Return a made-up snapshot; station 1 charges, the rest are idle."""
        with self._lock:
            stations = tuple(
                StationSnapshot(
                    station_id=s.station_id,
                    connected=i % 5 != 4,
                    connectors=(
                        ConnectorState(
                            1, "Charging" if i == 0 else "Available", 1001 if i == 0 else None
                        ),
                    ),
                    limit_a=16.0 if i == 0 else 6.0,
                    binding_constraint="L2 of feeder B at 63 A" if i == 0 else "",
                    session_energy_wh=5400.0 if i == 0 else None,
                    current_a=(15.8, 15.9, 15.7) if i == 0 else (0.0, 0.0, 0.0),
                    address=s.addresses[0].address if s.addresses else "",
                    last_seen=self._clock.now(),
                )
                for i, s in enumerate(self._enrolled.values())
            )
            amps = self._limit.amps
            return SiteSnapshot(
                self._clock.now(), self.power_w, (31.0, 28.5, 30.2), (amps, amps, amps), stations
            )

    def site_history(self, since: datetime) -> Sequence[SitePoint]:
        """Return one sample a minute over the asked span (at most 6 hours)."""
        now = self._clock.now()
        start = max(since, now - timedelta(hours=6))
        minutes = int((now - start).total_seconds() // 60)
        points = []
        for m in range(minutes, -1, -1):
            wave = (1 + math.sin(m / 23) * math.cos(m / 71)) / 2
            points.append(
                SitePoint(
                    now - timedelta(minutes=m),
                    self.power_w * (0.5 + wave),
                    (20 + 10 * wave, 18 + 9 * wave, 19 + 11 * wave),
                )
            )
        return points

    # --- stations

    def enrolled_stations(self) -> Sequence[EnrolledStation]:
        """Return enrolled stations by id."""
        with self._lock:
            return [self._enrolled[k] for k in sorted(self._enrolled)]

    def pending_stations(self) -> Sequence[PendingStation]:
        """Return pending stations, newest first."""
        with self._lock:
            return sorted(self._pending.values(), key=lambda p: p.last_seen, reverse=True)

    def _enroll(self, station_id: str) -> None:
        if station_id in self._enrolled:
            raise FacadeError(f"station {station_id} is already enrolled")
        self._enrolled[station_id] = EnrolledStation(station_id, self._clock.now(), ())

    def add_station(self, station_id: str) -> str:
        """Enroll with a generated key."""
        with self._lock:
            self._enroll(station_id)
            self.calls.append(("add_station", (station_id,)))
            return secrets.token_hex(16)

    def add_station_with_key(self, station_id: str, key: str) -> None:
        """Enroll with a given key."""
        with self._lock:
            self._enroll(station_id)
            self.calls.append(("add_station_with_key", (station_id,)))

    def approve_station(self, station_id: str) -> str | None:
        """Move a pending station to enrolled."""
        with self._lock:
            pending = self._pending.pop(station_id, None)
            if pending is None:
                raise FacadeError(f"no pending station {station_id}")
            self._enroll(station_id)
            seen = AddressSeen(pending.address, pending.first_seen, pending.last_seen)
            self._enrolled[station_id] = replace(self._enrolled[station_id], addresses=(seen,))
            self.calls.append(("approve_station", (station_id,)))
            return secrets.token_hex(16)

    def reject_station(self, station_id: str) -> None:
        """Drop a pending station."""
        with self._lock:
            if self._pending.pop(station_id, None) is None:
                raise FacadeError(f"no pending station {station_id}")
            self.calls.append(("reject_station", (station_id,)))

    def remove_station(self, station_id: str) -> None:
        """Revoke an enrolled station."""
        with self._lock:
            if self._enrolled.pop(station_id, None) is None:
                raise FacadeError(f"no station {station_id}")
            self.calls.append(("remove_station", (station_id,)))

    def add_pending(self, pending: PendingStation) -> None:
        """Test hook: a station knocks."""
        with self._lock:
            self._pending[pending.station_id] = pending

    # --- remote commands

    def _command(self, name: str, station_id: str, *args: Any) -> CommandResult:
        with self._lock:
            self.calls.append((name, (station_id, *args)))
            if station_id not in self._enrolled:
                return CommandResult("", f"no station {station_id}")
            return CommandResult("Unlocked" if name == "unlock_connector" else "Accepted")

    def remote_start(self, station_id: str, connector_id: int, id_tag: str) -> CommandResult:
        """Pretend the station accepts."""
        return self._command("remote_start", station_id, connector_id, id_tag)

    def remote_stop(self, station_id: str, transaction_id: int) -> CommandResult:
        """Pretend the station accepts."""
        return self._command("remote_stop", station_id, transaction_id)

    def unlock_connector(self, station_id: str, connector_id: int) -> CommandResult:
        """Pretend the station unlocks."""
        return self._command("unlock_connector", station_id, connector_id)

    def reset(self, station_id: str, kind: ResetKind) -> CommandResult:
        """Pretend the station accepts."""
        return self._command("reset", station_id, kind)

    def change_availability(
        self, station_id: str, connector_id: int, available: bool
    ) -> CommandResult:
        """Pretend the station accepts."""
        return self._command("change_availability", station_id, connector_id, available)

    # --- sessions

    def query_sessions(self, query: SessionQuery) -> SessionPage:
        """Filter the in-memory list."""
        with self._lock:
            found = [
                s
                for s in self._sessions
                if (query.station_id is None or s.station_id == query.station_id)
                and (query.badge is None or s.badge == query.badge)
                and (query.since is None or s.started >= query.since)
                and (query.until is None or s.started < query.until)
            ]
            page = found[query.offset : query.offset + query.limit]
            return SessionPage(tuple(page), len(found))

    # --- badges

    def badges(self) -> Sequence[Badge]:
        """Return badges by id."""
        with self._lock:
            return [self._badges[k] for k in sorted(self._badges)]

    def put_badge(self, badge: Badge) -> None:
        """Add or replace."""
        with self._lock:
            if badge.group and badge.group not in self._groups:
                raise FacadeError(f"no badge group {badge.group}")
            self._badges[badge.id_tag] = badge

    def delete_badge(self, id_tag: str) -> None:
        """Remove."""
        with self._lock:
            if self._badges.pop(id_tag, None) is None:
                raise FacadeError(f"no badge {id_tag}")

    def badge_groups(self) -> Sequence[BadgeGroup]:
        """Return groups by name."""
        with self._lock:
            return [self._groups[k] for k in sorted(self._groups)]

    def put_badge_group(self, group: BadgeGroup) -> None:
        """Add or change a group."""
        with self._lock:
            self._groups[group.name] = group

    def import_badges(self, badges: Sequence[Badge]) -> int:
        """All or nothing."""
        with self._lock:
            unknown = {b.group for b in badges if b.group and b.group not in self._groups}
            if unknown:
                raise FacadeError(f"unknown badge group(s): {', '.join(sorted(unknown))}")
            for badge in badges:
                self._badges[badge.id_tag] = badge
            return len(badges)

    # --- settings

    def settings(self) -> Mapping[str, Mapping[str, Any]]:
        """Return a copy of the settings."""
        with self._lock:
            return {k: dict(v) for k, v in self._settings.items()}

    def validate_settings(self, section: str, values: Mapping[str, str]) -> dict[str, str]:
        """Check types; a few made-up range rules."""
        current = self._settings.get(section)
        if current is None:
            return {"": f"no settings section {section}"}
        errors = {}
        for field, text in values.items():
            if field not in current:
                errors[field] = "unknown setting"
            elif problem := _check_field(current[field], text):
                errors[field] = problem
        port = values.get("port", "") if section == "ocpp" and "port" not in errors else ""
        if port and not 1 <= int(port) <= 65535:
            errors["port"] = "must be between 1 and 65535"
        return errors

    def apply_settings(self, section: str, values: Mapping[str, str]) -> None:
        """Apply after validating."""
        errors = self.validate_settings(section, values)
        if errors:
            raise FacadeError("; ".join(f"{k}: {v}" for k, v in errors.items()))
        with self._lock:
            current = self._settings[section]
            for field, text in values.items():
                current[field] = _parse_field(current[field], text)

    # --- audit

    def audit_records(self, event_prefix: str = "", limit: int = 200) -> Sequence[AuditRecord]:
        """Newest first."""
        with self._lock:
            found = [r for r in reversed(self._audit) if r.event.startswith(event_prefix)]
            return found[:limit]

    def audit_export(self) -> Iterator[str]:
        """Oldest first."""
        with self._lock:
            lines = [r.as_json() for r in self._audit]
        yield from lines

    def audit_verify(self) -> list[str]:
        """The fake chain is always intact."""
        return []

    def record(
        self,
        event: str,
        *,
        actor: str = "system",
        source: str = "",
        outcome: str = "ok",
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Keep the record in memory, hash-chained like the real log."""
        with self._lock:
            seq = len(self._audit) + 1
            prev = self._audit[-1].hash if self._audit else GENESIS
            time = iso_utc(self._clock.now())
            detail_json = json.dumps(dict(detail or {}), sort_keys=True, separators=(",", ":"))
            digest = chain_hash(prev, seq, time, event, actor, source, outcome, detail_json)
            self._audit.append(
                AuditRecord(
                    seq, time, event, actor, source, outcome, json.loads(detail_json), prev, digest
                )
            )

    # --- platform

    def _device(self) -> None:
        if self.device_refuses is not None:
            raise FacadeError(self.device_refuses)

    def reboot(self) -> None:
        """Record only."""
        self._device()
        self.calls.append(("reboot", ()))

    def ssh_state(self) -> SshState:
        """Return the switch state."""
        return self._ssh

    def set_ssh(self, enabled: bool, auto_off_minutes: int) -> SshState:
        """Flip the switch."""
        self._device()
        off_at = self._clock.now() + timedelta(minutes=auto_off_minutes) if enabled else None
        self._ssh = SshState(enabled, off_at)
        self.calls.append(("set_ssh", (enabled, auto_off_minutes)))
        return self._ssh

    def factory_reset(self) -> None:
        """Record only."""
        self._device()
        self.calls.append(("factory_reset", ()))

    def diagnostics_bundle(self) -> bytes:
        """A tiny made-up gzip."""
        import gzip

        return gzip.compress(b"evsite diagnostics (fake)\n")

    def setup_window_open(self) -> bool:
        """The test decides."""
        return self.setup_window

    # --- signed updates (delegated)

    def update_status(self) -> UpdateStatus:
        """The composed update actions' status."""
        return self.updates.update_status()

    def update_job(self) -> UpdateJob | None:
        """The composed update actions' job."""
        return self.updates.update_job()

    def begin_update_upload(self, size: int, *, actor: str, source: str, name: str = "") -> Path:
        """Delegated."""
        return self.updates.begin_update_upload(size, actor=actor, source=source, name=name)

    def start_update(self, upload: Path, *, actor: str, source: str) -> UpdateJob:
        """Delegated."""
        return self.updates.start_update(upload, actor=actor, source=source)

    def abort_update_upload(self, upload: Path, reason: str, message: str, *, source: str) -> None:
        """Delegated."""
        self.updates.abort_update_upload(upload, reason, message, source=source)

    def reboot_into_update(self, *, actor: str, source: str) -> None:
        """Delegated; recorded."""
        self.calls.append(("reboot_into_update", ()))
        self.updates.reboot_into_update(actor=actor, source=source)

    # --- EMS

    def set_site_limit(self, amps: float, expiry_s: int) -> SiteLimit:
        """Set an EMS limit with expiry."""
        with self._lock:
            expires = self._clock.now() + timedelta(seconds=expiry_s)
            self._limit = SiteLimit(amps, "ems", expires)
            return self._limit

    def site_limit(self) -> SiteLimit:
        """Fall back when the EMS limit has expired."""
        with self._lock:
            expires = self._limit.expires_at
            if expires is not None and self._clock.now() >= expires:
                self._limit = SiteLimit(63.0, "configured", None)
            return self._limit
