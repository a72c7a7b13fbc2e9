"""The one door between the web server's threads and the live application.

The web UI and the EMS API run in cheroot worker threads; the live state is
owned by the asyncio event loop. Everything the web layer reads or changes
goes through a `SiteFacade`: the real implementation schedules each call onto
the loop (``asyncio.run_coroutine_threadsafe(...).result(timeout)``) and hands
back plain frozen values, so no live object ever crosses into a web thread.

Contract for every method:
- called from web worker threads, possibly several at once: thread-safe;
- may block, but should answer within a few seconds (remote commands wait for
  the station's answer up to their own timeout and then report it);
- returns frozen dataclasses, tuples and plain mappings only;
- raises `FacadeError` with a message fit to show the user when the request
  is refused by the domain (unknown station, duplicate id, ...); the web layer
  shows the message and nothing has changed. Any other exception is a bug and
  becomes a generic error page.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from evsite.store.audit import AuditRecord
from evsite.update.service import (
    UnavailableUpdates,
    UpdateJob,
    UpdateRefused,
    UpdateService,
    UpdateStatus,
)

__all__ = ["UpdateJob", "UpdateRefused", "UpdateStatus"]  # re-exported for the web layer

PhaseValues = tuple[float, float, float]
DiscoverySource = Literal["connection", "mdns", "ssdp"]
ResetKind = Literal["Soft", "Hard"]
GroupStrategy = Literal["local", "csms", "local_first"]


class FacadeError(Exception):
    """The domain refused a request; the message is shown to the user as is."""


# --- site snapshot ---------------------------------------------------------


@dataclass(frozen=True)
class ConnectorState:
    """One connector as last reported (OCPP StatusNotification)."""

    connector_id: int
    status: str  # OCPP status, e.g. "Available", "Charging", "Faulted"
    transaction_id: int | None = None  # the running transaction, for remote stop


@dataclass(frozen=True)
class StationSnapshot:
    """One enrolled station as the dashboard shows it."""

    station_id: str
    connected: bool
    connectors: tuple[ConnectorState, ...]
    limit_a: float | None  # current limit per phase in force, None when unmanaged
    binding_constraint: str  # e.g. "L2 of feeder B at 63 A"; "" when none binds
    session_energy_wh: float | None  # energy of the running session, None when idle
    current_a: PhaseValues  # measured per-phase current drawn
    address: str  # last remote address, "" when never seen
    last_seen: datetime | None


@dataclass(frozen=True)
class SiteSnapshot:
    """The whole site at one moment."""

    time: datetime
    power_w: float
    phase_current_a: PhaseValues  # building + stations, as measured
    phase_limit_a: PhaseValues  # effective site limit per phase
    stations: tuple[StationSnapshot, ...]


@dataclass(frozen=True)
class SitePoint:
    """One sample of the site history, for the dashboard chart."""

    time: datetime
    power_w: float
    phase_current_a: PhaseValues


class SiteView(Protocol):
    """Read the live site."""

    def site_snapshot(self) -> SiteSnapshot:
        """Return the current site state."""
        ...

    def site_history(self, since: datetime) -> Sequence[SitePoint]:
        """Return samples newer than `since`, oldest first (a few hundred at most)."""
        ...


# --- stations and enrollment -------------------------------------------------


@dataclass(frozen=True)
class AddressSeen:
    """One remote address a station identity has used."""

    address: str
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True)
class EnrolledStation:
    """A station that is served."""

    station_id: str
    enrolled_at: datetime
    addresses: tuple[AddressSeen, ...]  # newest first


@dataclass(frozen=True)
class PendingStation:
    """A station that connected or was discovered but is not enrolled."""

    station_id: str
    address: str
    source: DiscoverySource
    first_seen: datetime
    last_seen: datetime
    attempts: int


class StationAdmin(Protocol):
    """Enrollment: who is served."""

    def enrolled_stations(self) -> Sequence[EnrolledStation]:
        """Return the enrolled stations, ordered by id."""
        ...

    def pending_stations(self) -> Sequence[PendingStation]:
        """Return the pending enrollments, newest first."""
        ...

    def add_station(self, station_id: str) -> str:
        """Enroll a station with a freshly generated key and return the key (shown once)."""
        ...

    def add_station_with_key(self, station_id: str, key: str) -> None:
        """Enroll a station with a key the installer typed (16 to 40 characters)."""
        ...

    def approve_station(self, station_id: str) -> str | None:
        """Enroll a pending station; return a generated key to show once, or None."""
        ...

    def reject_station(self, station_id: str) -> None:
        """Drop a pending enrollment (it may come back if the station retries)."""
        ...

    def remove_station(self, station_id: str) -> None:
        """Revoke an enrolled station at once (its connection is closed)."""
        ...


# --- remote commands -----------------------------------------------------------


@dataclass(frozen=True)
class CommandResult:
    """The outcome of a remote command."""

    status: str  # the station's answer ("Accepted", "Rejected", ...), "" when none came
    error: str = ""  # why no answer came ("station not connected", "timeout", ...)

    @property
    def ok(self) -> bool:
        """True when the station answered Accepted (or Unlocked, for unlock)."""
        return not self.error and self.status in ("Accepted", "Unlocked", "Scheduled")


class RemoteCommands(Protocol):
    """Commands sent to a station; each waits for the station's answer."""

    def remote_start(self, station_id: str, connector_id: int, id_tag: str) -> CommandResult:
        """RemoteStartTransaction."""
        ...

    def remote_stop(self, station_id: str, transaction_id: int) -> CommandResult:
        """RemoteStopTransaction."""
        ...

    def unlock_connector(self, station_id: str, connector_id: int) -> CommandResult:
        """UnlockConnector."""
        ...

    def reset(self, station_id: str, kind: ResetKind) -> CommandResult:
        """Reset, soft or hard."""
        ...

    def change_availability(
        self, station_id: str, connector_id: int, available: bool
    ) -> CommandResult:
        """ChangeAvailability to Operative (True) or Inoperative (False); 0 = whole station."""
        ...


# --- charge sessions -----------------------------------------------------------


@dataclass(frozen=True)
class SessionQuery:
    """Filters for the session history; None means no filter."""

    station_id: str | None = None
    badge: str | None = None
    since: datetime | None = None  # started at or after
    until: datetime | None = None  # started before
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class ChargeSession:
    """One charge session."""

    session_id: int
    station_id: str
    connector_id: int
    badge: str
    started: datetime
    stopped: datetime | None
    energy_wh: float
    stop_reason: str


@dataclass(frozen=True)
class SessionPage:
    """One page of sessions, newest first, and how many match in all."""

    items: tuple[ChargeSession, ...]
    total: int


class SessionHistory(Protocol):
    """Past and running charge sessions."""

    def query_sessions(self, query: SessionQuery) -> SessionPage:
        """Return sessions matching the filters, newest first."""
        ...


# --- badges --------------------------------------------------------------------


@dataclass(frozen=True)
class Badge:
    """An RFID badge (OCPP idTag) on the local list."""

    id_tag: str
    name: str = ""
    group: str = ""  # "" = no group
    vip: bool = False
    blocked: bool = False


@dataclass(frozen=True)
class BadgeGroup:
    """A badge group and how its badges are authorized."""

    name: str
    strategy: GroupStrategy = "local"


class BadgeStore(Protocol):
    """The local authorization list."""

    def badges(self) -> Sequence[Badge]:
        """Return all badges, ordered by id_tag."""
        ...

    def put_badge(self, badge: Badge) -> None:
        """Add a badge or replace the one with the same id_tag."""
        ...

    def delete_badge(self, id_tag: str) -> None:
        """Remove a badge (FacadeError when unknown)."""
        ...

    def badge_groups(self) -> Sequence[BadgeGroup]:
        """Return the groups, ordered by name."""
        ...

    def put_badge_group(self, group: BadgeGroup) -> None:
        """Add a group or change its strategy."""
        ...

    def import_badges(self, badges: Sequence[Badge]) -> int:
        """Add or replace many badges at once, all or nothing; return how many."""
        ...


# --- settings ------------------------------------------------------------------


class SettingsStore(Protocol):
    """The application settings, by section (network, ocpp, load_management, ...)."""

    def settings(self) -> Mapping[str, Mapping[str, Any]]:
        """Return the current settings: section -> field -> value (str, int, float, bool).

        A field name may be dotted ("feeder.a.limit_a") for nested settings.
        Secrets are never returned (their value is "").
        """
        ...

    def validate_settings(self, section: str, values: Mapping[str, str]) -> dict[str, str]:
        """Check new values (text as typed) for one section; return field -> error."""
        ...

    def apply_settings(self, section: str, values: Mapping[str, str]) -> None:
        """Validate and apply new values for one section, or raise and change nothing."""
        ...


# --- audit -----------------------------------------------------------------------


class AuditView(Protocol):
    """The audit log: read, export, verify, and record the web layer's own events."""

    def audit_records(self, event_prefix: str = "", limit: int = 200) -> Sequence[AuditRecord]:
        """Return the newest records first, optionally filtered by event name prefix."""
        ...

    def audit_export(self) -> Iterator[str]:
        """Yield every record as one JSON line, oldest first."""
        ...

    def audit_verify(self) -> list[str]:
        """Check the hash chain; return the problems found (empty when intact)."""
        ...

    def record(
        self,
        event: str,
        *,
        actor: str = "system",
        source: str = "",
        outcome: str = "ok",
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Append one event (same signature as evsite.store.audit.AuditSink)."""
        ...


# --- platform ----------------------------------------------------------------------


@dataclass(frozen=True)
class SshState:
    """Whether SSH is on and when it switches itself off."""

    enabled: bool
    auto_off_at: datetime | None


class PlatformActions(Protocol):
    """The device itself (privileged helpers behind it)."""

    def reboot(self) -> None:
        """Reboot soon (after the answer has been sent)."""
        ...

    def ssh_state(self) -> SshState:
        """Return the SSH switch state."""
        ...

    def set_ssh(self, enabled: bool, auto_off_minutes: int) -> SshState:
        """Switch SSH on (switching itself off after the minutes given) or off."""
        ...

    def factory_reset(self) -> None:
        """Wipe the data and reboot into the first-boot state (password already checked)."""
        ...

    def diagnostics_bundle(self) -> bytes:
        """Return a tar.gz of logs and state for support, without secrets."""
        ...

    def setup_window_open(self) -> bool:
        """True while a short press of the button has opened the setup window."""
        ...


# --- signed updates ------------------------------------------------------------------


class UpdateActions(Protocol):
    """Signed updates: receive a bundle, install it in the background, reboot into it.

    `evsite.update.service.UpdateService` implements this for real (and
    `UnavailableUpdates` where the device has no update system). Refusals raise
    `UpdateRefused` (its `code` says which: unavailable, busy, too-large,
    no-space, no-trial, unknown-upload; its message is shown as is). A bundle
    the installer refuses is not an exception here: the job ends "failed" with
    the installer's reason code and message.
    """

    def update_status(self) -> UpdateStatus:
        """Running version, booted and other slot, armed trial, last rejection, current job."""
        ...

    def update_job(self) -> UpdateJob | None:
        """The current or last update job (cheap enough to poll every second)."""
        ...

    def begin_update_upload(self, size: int, *, actor: str, source: str, name: str = "") -> Path:
        """Reserve the new file (in the data directory) an upload of `size` bytes goes into."""
        ...

    def start_update(self, upload: Path, *, actor: str, source: str) -> UpdateJob:
        """Install the completely received upload in the background; return its job."""
        ...

    def abort_update_upload(self, upload: Path, reason: str, message: str, *, source: str) -> None:
        """The upload failed while being received: delete the file, record and audit why."""
        ...

    def reboot_into_update(self, *, actor: str, source: str) -> None:
        """Reboot into the installed trial slot (audited)."""
        ...


def _conforms(real: UpdateService, off: UnavailableUpdates) -> tuple[UpdateActions, ...]:
    # Never called: mypy checks here that both implementations satisfy the Protocol.
    return (real, off)


# --- EMS -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteLimit:
    """The site limit in force and where it comes from."""

    amps: float  # per phase
    source: str  # "configured", "ems", "bms" or "fallback"
    expires_at: datetime | None  # when an EMS/BMS setpoint falls back


class EmsControl(Protocol):
    """The site limit as an EMS sets it."""

    def set_site_limit(self, amps: float, expiry_s: int) -> SiteLimit:
        """Set the site limit per phase for `expiry_s` seconds, then fall back."""
        ...

    def site_limit(self) -> SiteLimit:
        """Return the effective site limit."""
        ...


class SiteFacade(
    SiteView,
    StationAdmin,
    RemoteCommands,
    SessionHistory,
    BadgeStore,
    SettingsStore,
    AuditView,
    PlatformActions,
    UpdateActions,
    EmsControl,
    Protocol,
):
    """Everything the web layer may do; the composition root provides one."""
