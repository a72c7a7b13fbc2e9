"""What every part of the real facade shares: the controller, the loop bridge, a reader."""

from __future__ import annotations

from datetime import UTC, datetime

from evsite.clock import Clock
from evsite.controller import Controller
from evsite.facade.bridge import LoopBridge
from evsite.facade.config_editor import ConfigEditor
from evsite.facade.fresh import Fresh
from evsite.platform import Platform
from evsite.store.audit import AuditLog
from evsite.store.badges import BadgeRepository
from evsite.store.db import Database
from evsite.store.stations import StationRepository
from evsite.store.transactions import TransactionRepository
from evsite.web.facade import SiteSnapshot


class FacadeCore:
    """State the facade's parts share; set up by SiteFacadeImpl."""

    _controller: Controller
    _clock: Clock
    _bridge: LoopBridge
    _platform: Platform
    _config: ConfigEditor
    _command_timeout_s: float
    # Reads from web threads go through a connection of their own, never the loop's.
    _reader: Database
    _read_stations: StationRepository
    _read_transactions: TransactionRepository
    _read_badges: BadgeRepository
    _read_audit: AuditLog
    # Written on the loop only (event listener); copied there for the snapshot.
    _last_seen: dict[str, datetime]
    # The site snapshot web requests share; cleared when a change must show at once.
    _site_now: Fresh[SiteSnapshot]


def parse_time(text: str | None) -> datetime | None:
    """A stored timestamp (ISO 8601, as stations or iso_utc wrote it) as aware UTC, or None."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
