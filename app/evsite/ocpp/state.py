"""Live state of connected stations, kept on the event loop and read as snapshots."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from evsite.ocpp.events import (
    Event,
    MeterSampled,
    StationConnected,
    StationDisconnected,
    StatusChanged,
    TransactionStarted,
    TransactionStopped,
)


@dataclass(frozen=True)
class ConnectorView:
    """A connector as last reported."""

    connector_id: int
    status: str = "Unknown"
    error_code: str = "NoError"
    transaction_id: int | None = None
    id_tag: str | None = None
    vip: bool = False
    currents_a: tuple[float | None, float | None, float | None] = (None, None, None)
    power_w: float | None = None
    energy_wh: float | None = None
    start_energy_wh: float | None = None


@dataclass(frozen=True)
class StationView:
    """A station as the rest of the app sees it."""

    station_id: str
    connected: bool = False
    address: str = ""
    connectors: dict[int, ConnectorView] = field(default_factory=dict)


class LiveState:
    """Folds station events into views; updated only on the event loop."""

    def __init__(self) -> None:
        self._stations: dict[str, StationView] = {}

    def apply(self, event: Event) -> None:
        """Update the views from one event."""
        view = self._stations.get(event.station_id) or StationView(event.station_id)
        if isinstance(event, StationConnected):
            view = replace(view, connected=True, address=event.address)
        elif isinstance(event, StationDisconnected):
            view = replace(view, connected=False)
        elif isinstance(event, StatusChanged):
            view = _with_connector(
                view, event.connector_id, status=event.status, error_code=event.error_code
            )
        elif isinstance(event, TransactionStarted):
            view = _with_connector(
                view,
                event.connector_id,
                transaction_id=event.transaction_id,
                id_tag=event.id_tag,
                vip=event.vip,
                start_energy_wh=None,
            )
        elif isinstance(event, TransactionStopped):
            view = _with_connector(
                view,
                event.connector_id,
                transaction_id=None,
                id_tag=None,
                vip=False,
                currents_a=(None, None, None),
                power_w=None,
            )
        elif isinstance(event, MeterSampled):
            connector = view.connectors.get(event.connector_id)
            start = connector.start_energy_wh if connector else None
            if start is None and event.transaction_id is not None:
                start = event.energy_wh
            view = _with_connector(
                view,
                event.connector_id,
                currents_a=event.currents_a,
                power_w=event.power_w,
                energy_wh=event.energy_wh,
                start_energy_wh=start,
            )
        self._stations[event.station_id] = view

    def forget(self, station_id: str) -> None:
        """Drop a removed station."""
        self._stations.pop(station_id, None)

    def station(self, station_id: str) -> StationView | None:
        """One station's view."""
        return self._stations.get(station_id)

    def stations(self) -> list[StationView]:
        """All views, by id."""
        return [self._stations[k] for k in sorted(self._stations)]


def _with_connector(view: StationView, connector_id: int, **changes: object) -> StationView:
    connector = view.connectors.get(connector_id) or ConnectorView(connector_id)
    connectors = dict(view.connectors)
    connectors[connector_id] = replace(connector, **changes)  # type: ignore[arg-type]
    return replace(view, connectors=connectors)
