"""SiteFacadeImpl: the web layer's one door into the running controller."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import evsite
from evsite.controller import Controller
from evsite.facade.bridge import LoopBridge
from evsite.facade.config_editor import ConfigEditor
from evsite.facade.device import EmsPart, PlatformPart, SettingsPart
from evsite.facade.fresh import Fresh
from evsite.facade.live import SiteHistory, SiteViewPart
from evsite.facade.records import AuditPart, BadgePart, SessionHistoryPart
from evsite.facade.stations import RemoteCommandsPart, StationAdminPart
from evsite.ocpp.events import Event
from evsite.platform import Platform
from evsite.store.audit import AuditLog
from evsite.store.badges import BadgeRepository
from evsite.store.db import Database
from evsite.store.stations import StationRepository
from evsite.store.transactions import TransactionRepository
from evsite.update.service import UnavailableUpdates, UpdateJob, UpdateStatus
from evsite.web.facade import UpdateActions

HISTORY_INTERVAL_S = 10.0
# How old a site snapshot shared by web requests may be; the dashboard polls every 5 s.
SNAPSHOT_MAX_AGE_S = 0.5


class UpdatePart:
    """Signed updates: handed to the update service, which has its own thread and lock."""

    _updates: UpdateActions

    def update_status(self) -> UpdateStatus:
        """Versions, slots and the current job."""
        return self._updates.update_status()

    def update_job(self) -> UpdateJob | None:
        """The install in progress or last finished."""
        return self._updates.update_job()

    def begin_update_upload(self, size: int, *, actor: str, source: str, name: str = "") -> Path:
        """Reserve a place for an uploaded bundle."""
        return self._updates.begin_update_upload(size, actor=actor, source=source, name=name)

    def start_update(self, upload: Path, *, actor: str, source: str) -> UpdateJob:
        """Install an uploaded bundle in the background."""
        return self._updates.start_update(upload, actor=actor, source=source)

    def abort_update_upload(self, upload: Path, reason: str, message: str, *, source: str) -> None:
        """Drop a failed upload."""
        self._updates.abort_update_upload(upload, reason, message, source=source)

    def reboot_into_update(self, *, actor: str, source: str) -> None:
        """Reboot into the installed trial."""
        self._updates.reboot_into_update(actor=actor, source=source)


HISTORY_SPAN_S = 6 * 3600.0


class SiteFacadeImpl(
    SiteViewPart,
    StationAdminPart,
    RemoteCommandsPart,
    SessionHistoryPart,
    BadgePart,
    SettingsPart,
    AuditPart,
    PlatformPart,
    EmsPart,
    UpdatePart,
):
    """Every SiteFacade call, scheduled onto the controller's loop or read from the store.

    Build it on the loop after the controller, `await start()` it before the web
    server starts, and `await stop()` it after the web server stopped. The
    controller's database must include FACADE_MIGRATIONS (badge groups).
    """

    def __init__(
        self,
        controller: Controller,
        platform: Platform,
        config_path: Path,
        *,
        call_timeout_s: float = 5.0,
        command_timeout_s: float = 15.0,
        history_interval_s: float = HISTORY_INTERVAL_S,
        history_span_s: float = HISTORY_SPAN_S,
        snapshot_max_age_s: float = SNAPSHOT_MAX_AGE_S,
        updates: UpdateActions | None = None,
    ) -> None:
        self._updates = updates or UnavailableUpdates(
            "no update system on this run", evsite.__version__
        )
        self._controller = controller
        self._clock = controller.clock
        self._bridge = LoopBridge(call_timeout_s)
        self._platform = platform
        self._config = ConfigEditor(controller.settings.raw, config_path, controller.audit)
        self._command_timeout_s = command_timeout_s
        self._reader = Database(controller.db.path)
        self._read_stations = StationRepository(self._reader, self._clock)
        self._read_transactions = TransactionRepository(self._reader, self._clock)
        self._read_badges = BadgeRepository(self._reader)
        self._read_audit = AuditLog(
            self._reader, self._clock, controller.db.path.with_name("audit.head")
        )
        self._last_seen = {}
        self._history = SiteHistory(history_interval_s, history_span_s)
        self._site_now = Fresh(self._clock, snapshot_max_age_s)
        self._ems = None
        self._ems_timer = None
        self._task: asyncio.Task[None] | None = None
        controller.events.subscribe(self._on_event)

    @property
    def config_path(self) -> Path:
        """Where apply_settings writes."""
        return self._config.path

    async def start(self) -> None:
        """Serve calls from now on and start sampling the site history (on the loop)."""
        self._bridge.bind(asyncio.get_running_loop())
        self._task = asyncio.create_task(self._history.run(self._sample))

    async def stop(self) -> None:
        """Refuse further calls, stop sampling, drop an EMS limit's timer, close the reader."""
        self._bridge.unbind()
        self._site_now.clear()
        self._cancel_ems()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._reader.close()

    def _on_event(self, event: Event) -> None:
        # Anything a station sends shows it is alive; the store only knows its last connect.
        self._last_seen[event.station_id] = self._clock.now()
