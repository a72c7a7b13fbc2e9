"""What the station server tells the rest of the app: connections, status, transactions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("evsite.events")


@dataclass(frozen=True)
class StationConnected:
    """A station completed the WebSocket handshake."""

    station_id: str
    address: str


@dataclass(frozen=True)
class StationDisconnected:
    """A station's connection ended."""

    station_id: str
    reason: str


@dataclass(frozen=True)
class StatusChanged:
    """A connector (0 = the whole station) reported a status."""

    station_id: str
    connector_id: int
    status: str
    error_code: str


@dataclass(frozen=True)
class TransactionStarted:
    """A transaction began."""

    station_id: str
    connector_id: int
    transaction_id: int
    id_tag: str
    vip: bool


@dataclass(frozen=True)
class TransactionStopped:
    """A transaction ended."""

    station_id: str
    connector_id: int
    transaction_id: int
    energy_wh: int


@dataclass(frozen=True)
class MeterSampled:
    """Fresh per-phase currents (A) and power (W) of a connector."""

    station_id: str
    connector_id: int
    transaction_id: int | None
    currents_a: tuple[float | None, float | None, float | None]
    power_w: float | None
    energy_wh: float | None
    offered_a: float | None


Event = (
    StationConnected
    | StationDisconnected
    | StatusChanged
    | TransactionStarted
    | TransactionStopped
    | MeterSampled
)
Listener = Callable[[Event], None]


class EventBus:
    """Synchronous fan-out of events to listeners on the event loop."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        """Call listener(event) for every event from now on."""
        self._listeners.append(listener)

    def publish(self, event: Event) -> None:
        """Deliver an event; a failing listener is logged and does not stop the others."""
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                log.exception("event listener failed on %r", event)
