"""The controller's status snapshot: written by the running controller, read by `evsite status`.

A JSON file in the data directory, replaced atomically every couple of seconds,
so the CLI (another process) can show live state without a control channel.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from evsite.clock import Clock, iso_utc
from evsite.energy.control import ControlSnapshot
from evsite.modbus.meter import MeterSample
from evsite.ocpp.state import LiveState

STATUS_FILE = "status.json"


def build_status(
    clock: Clock,
    live: LiveState,
    control: ControlSnapshot | None,
    site_meter: MeterSample | None,
    meters: list[dict[str, object]],
) -> dict[str, Any]:
    """Everything `evsite status` and the dashboard show, as plain data."""
    stations = []
    for view in live.stations():
        connector = view.connectors.get(1)
        limit = control.limits.get(view.station_id) if control else None
        stations.append(
            {
                "id": view.station_id,
                "connected": view.connected,
                "address": view.address,
                "status": connector.status if connector else None,
                "transaction_id": connector.transaction_id if connector else None,
                "currents_a": list(connector.currents_a) if connector else None,
                "limit_a": control.sent.get(view.station_id) if control else None,
                "target_a": limit.amps if limit else None,
                "binding": limit.binding if limit else None,
            }
        )
    site: dict[str, Any] = {"meter": None}
    if site_meter is not None:
        site["meter"] = {
            "currents_a": list(site_meter.currents_a),
            "power_w": site_meter.power_w,
            "time": iso_utc(site_meter.timestamp),
        }
    if control is not None:
        site["available_a"] = {k: list(v) for k, v in control.available.items()}
        site["allocated_a"] = {k: list(v) for k, v in control.allocated.items()}
        site["stale_meters"] = control.stale_nodes
        site["external_limit_a"] = control.site_limit_a
    return {"time": iso_utc(clock.now()), "stations": stations, "site": site, "meters": meters}


def write_status(data_dir: Path, status: dict[str, Any]) -> None:
    """Replace the status file atomically (no fsync: it is rebuilt every few seconds)."""
    target = data_dir / STATUS_FILE
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(status, indent=1, default=str))
    os.replace(tmp, target)


def read_status(data_dir: Path) -> dict[str, Any] | None:
    """The last status written, or None."""
    try:
        status: dict[str, Any] = json.loads((data_dir / STATUS_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return status


def format_status(status: dict[str, Any]) -> str:
    """A table for the terminal: each station's limit and the constraint that binds it."""
    lines = [f"status at {status['time']}"]
    meter = status["site"].get("meter")
    if meter:
        currents = " / ".join(f"{a:.1f}" for a in meter["currents_a"])
        lines.append(f"site meter: {meter['power_w'] / 1000:.1f} kW, L1/L2/L3 {currents} A")
    stale = status["site"].get("stale_meters")
    if stale:
        lines.append(f"STALE meters (fallback limits apply): {', '.join(stale)}")
    if status["site"].get("external_limit_a") is not None:
        lines.append(f"external site limit: {status['site']['external_limit_a']} A")
    lines.append(
        f"{'STATION':<12} {'ONLINE':<6} {'STATUS':<14} {'DRAW A':>7} {'LIMIT A':>8}  "
        "BINDING CONSTRAINT"
    )
    for s in status["stations"]:
        draw = max((a or 0.0 for a in s["currents_a"] or [0.0]), default=0.0)
        limit = "-" if s["limit_a"] is None else f"{s['limit_a']:.1f}"
        lines.append(
            f"{s['id']:<12} {'yes' if s['connected'] else 'no':<6} "
            f"{(s['status'] or '-'):<14} {draw:>7.1f} {limit:>8}  {s['binding'] or '-'}"
        )
    return "\n".join(lines)
