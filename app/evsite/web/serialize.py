"""Facade values as JSON-ready dicts, shared by the dashboard endpoints and the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from evsite.clock import iso_utc
from evsite.web.facade import ChargeSession, SiteLimit, SiteSnapshot, StationSnapshot


def _time(value: datetime | None) -> str | None:
    return iso_utc(value) if value is not None else None


def station_json(s: StationSnapshot) -> dict[str, Any]:
    """One station's live state."""
    return {
        "id": s.station_id,
        "connected": s.connected,
        "connectors": [
            {"id": c.connector_id, "status": c.status, "transaction_id": c.transaction_id}
            for c in s.connectors
        ],
        "limit_a": s.limit_a,
        "binding_constraint": s.binding_constraint,
        "session_energy_wh": s.session_energy_wh,
        "current_a": list(s.current_a),
        "address": s.address,
        "last_seen": _time(s.last_seen),
    }


def limit_json(limit: SiteLimit) -> dict[str, Any]:
    """The effective site limit."""
    return {"amps": limit.amps, "source": limit.source, "expires_at": _time(limit.expires_at)}


def site_json(snap: SiteSnapshot, limit: SiteLimit, with_stations: bool) -> dict[str, Any]:
    """The site state; stations included on request."""
    body: dict[str, Any] = {
        "time": iso_utc(snap.time),
        "power_w": snap.power_w,
        "phases": [
            {"current_a": c, "limit_a": lim}
            for c, lim in zip(snap.phase_current_a, snap.phase_limit_a, strict=True)
        ],
        "site_limit": limit_json(limit),
        "station_count": len(snap.stations),
        "charging_count": sum(
            1 for s in snap.stations if any(c.status == "Charging" for c in s.connectors)
        ),
    }
    if with_stations:
        body["stations"] = [station_json(s) for s in snap.stations]
    return body


def session_json(s: ChargeSession) -> dict[str, Any]:
    """One charge session."""
    return {
        "id": s.session_id,
        "station_id": s.station_id,
        "connector_id": s.connector_id,
        "badge": s.badge,
        "started": iso_utc(s.started),
        "stopped": _time(s.stopped),
        "energy_wh": s.energy_wh,
        "stop_reason": s.stop_reason,
    }
