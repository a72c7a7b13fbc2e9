"""The live site: a snapshot taken cheaply on the loop and built off it, and its history."""

from __future__ import annotations

import asyncio
import math
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from evsite.energy.control import ControlSnapshot
from evsite.facade.core import FacadeCore, parse_time
from evsite.facade.station_reads import stations_last_seen
from evsite.modbus.meter import MeterSample
from evsite.ocpp.state import StationView
from evsite.web.facade import (
    ConnectorState,
    PhaseValues,
    SitePoint,
    SiteSnapshot,
    StationSnapshot,
)

MAX_HISTORY_POINTS = 360  # what one chart shows; older spans are thinned to this


@dataclass(frozen=True)
class _LiveStation:
    connected: bool
    connectors: tuple[ConnectorState, ...]
    limit_a: float | None
    binding: str
    energy_wh: float | None
    current_a: PhaseValues
    power_w: float
    address: str
    last_seen: datetime | None


@dataclass(frozen=True)
class _LiveSite:
    time: datetime
    power_w: float
    current_a: PhaseValues
    limit_a: PhaseValues
    stations: dict[str, _LiveStation]


class SiteHistory:
    """A ring of site samples, one per interval over a span; kept in memory only."""

    def __init__(self, interval_s: float, span_s: float) -> None:
        self.interval_s = interval_s
        self._points: deque[SitePoint] = deque(maxlen=max(2, math.ceil(span_s / interval_s)))
        self._lock = threading.Lock()  # appended on the loop, copied in web threads

    def add(self, point: SitePoint) -> None:
        """Keep one sample (the oldest drops out when full)."""
        with self._lock:
            self._points.append(point)

    def since(self, moment: datetime, max_points: int = MAX_HISTORY_POINTS) -> list[SitePoint]:
        """Samples newer than moment, oldest first, thinned evenly to at most max_points."""
        with self._lock:
            points = [p for p in self._points if p.time > moment]
        if len(points) <= max_points:
            return points
        step = len(points) / max_points
        picked = [points[int(i * step)] for i in range(max_points - 1)]
        return [*picked, points[-1]]

    async def run(self, sample: Callable[[], Awaitable[SitePoint]]) -> None:
        """Sample until cancelled."""
        while True:
            self.add(await sample())
            await asyncio.sleep(self.interval_s)


def _phases(values: Sequence[float | None]) -> PhaseValues:
    a, b, c = (float(v or 0.0) for v in values)
    return (a, b, c)


@dataclass(frozen=True)
class _Taken:
    """The live state as the loop holds it: views it replaces whole and never changes in place."""

    time: datetime
    views: list[StationView]
    control: ControlSnapshot | None
    site_limit: PhaseValues
    meter: MeterSample | None
    last_seen: dict[str, datetime]


class SiteViewPart(FacadeCore):
    """SiteView: the snapshot and the history."""

    _history: SiteHistory

    def site_snapshot(self) -> SiteSnapshot:
        """The site now (shared for up to a second): enrolled stations with their live state."""
        return self._site_now.get(self._build_snapshot)

    def site_history(self, since: datetime) -> Sequence[SitePoint]:
        """Samples newer than since, oldest first."""
        return self._history.since(since)

    def _build_snapshot(self) -> SiteSnapshot:
        # The loop only hands over references; the thousand stations are built here.
        live = _live_site(self._bridge.run(self._take()))
        stations = []
        for record in stations_last_seen(self._reader):
            state = live.stations.get(record.station_id)
            if state is None:
                state = _LiveStation(
                    False, (), None, "", None, (0.0, 0.0, 0.0), 0.0, record.address, None
                )
            stations.append(
                StationSnapshot(
                    station_id=record.station_id,
                    connected=state.connected,
                    connectors=state.connectors,
                    limit_a=state.limit_a,
                    binding_constraint=state.binding,
                    session_energy_wh=state.energy_wh,
                    current_a=state.current_a,
                    address=state.address,
                    last_seen=state.last_seen or parse_time(record.last_seen_at),
                )
            )
        return SiteSnapshot(live.time, live.power_w, live.current_a, live.limit_a, tuple(stations))

    # --- on the loop

    async def _take(self) -> _Taken:
        return self._take_now()

    def _take_now(self) -> _Taken:
        c = self._controller
        control = c.load.loop
        return _Taken(
            time=self._clock.now(),
            views=c.live.stations(),
            control=control.snapshot if control is not None else None,
            site_limit=_phases(control.tree.root.limit) if control is not None else (0.0, 0.0, 0.0),
            meter=c.load.site_meter(),
            last_seen=dict(self._last_seen),
        )

    async def _sample(self) -> SitePoint:
        # Taken here, summed in a worker thread: a thousand stations would pause the loop.
        site = await asyncio.to_thread(_live_site, self._take_now())
        return SitePoint(site.time, site.power_w, site.current_a)


def _live_site(taken: _Taken) -> _LiveSite:
    stations = {v.station_id: _live_station(v, taken) for v in taken.views}
    sample = taken.meter
    if sample is not None:
        power, currents = sample.power_w, _phases(sample.currents_a)
    else:
        # No site meter: what the stations draw is the best we know of the site.
        power = sum(s.power_w for s in stations.values())
        currents = _phases([sum(s.current_a[p] for s in stations.values()) for p in range(3)])
    return _LiveSite(taken.time, power or 0.0, currents, taken.site_limit, stations)


def _live_station(view: StationView, taken: _Taken) -> _LiveStation:
    numbered = sorted(view.connectors.values(), key=lambda c: c.connector_id)
    # Connector 0 is the station as a whole; show it only when it is all there is.
    shown = [c for c in numbered if c.connector_id > 0] or numbered
    energy = None
    current: PhaseValues = (0.0, 0.0, 0.0)
    power = 0.0
    for connector in shown:
        if connector.transaction_id is not None:
            if connector.energy_wh is not None and connector.start_energy_wh is not None:
                energy = (energy or 0.0) + connector.energy_wh - connector.start_energy_wh
            elif energy is None:
                energy = 0.0
            current = _phases(connector.currents_a)
            power += connector.power_w or 0.0
    control = taken.control
    limit = control.limits.get(view.station_id) if control else None
    return _LiveStation(
        connected=view.connected,
        connectors=tuple(ConnectorState(c.connector_id, c.status, c.transaction_id) for c in shown),
        limit_a=control.sent.get(view.station_id) if control else None,
        binding=limit.binding if limit is not None else "",
        energy_wh=energy,
        current_a=current,
        power_w=power,
        address=view.address,
        last_seen=taken.time if view.connected else taken.last_seen.get(view.station_id),
    )
