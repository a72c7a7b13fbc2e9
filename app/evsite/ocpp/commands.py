"""The central system's commands to stations, for the rest of the app.

Callers build the request with the ocpp library's typed classes
(`ocpp.v16.call.RemoteStartTransaction(...)`), so the names and types are the
library's; the answer comes back as the validated response payload.
"""

from __future__ import annotations

from typing import Any

from ocpp.v16 import call

from evsite.ocpp.payloads import action_of, to_payload
from evsite.ocpp.server import StationServer


class NotConnected(Exception):
    """The station has no live connection."""


class StationCommands:
    """Send central-system requests to connected stations."""

    def __init__(self, server: StationServer) -> None:
        self._server = server

    async def send(
        self, station_id: str, message: Any, timeout: float | None = None
    ) -> dict[str, Any]:
        """Send one request (a `ocpp.v16.call.*` instance) and return the answer's payload."""
        session = self._server.session(station_id)
        if session is None:
            raise NotConnected(f"station {station_id} is not connected")
        return await session.call(action_of(message), to_payload(message), timeout)

    async def remote_start(self, station_id: str, connector_id: int | None, id_tag: str) -> str:
        """RemoteStartTransaction; returns Accepted or Rejected."""
        answer = await self.send(
            station_id, call.RemoteStartTransaction(id_tag=id_tag, connector_id=connector_id)
        )
        return str(answer["status"])

    async def remote_stop(self, station_id: str, transaction_id: int) -> str:
        """RemoteStopTransaction; returns Accepted or Rejected."""
        answer = await self.send(
            station_id, call.RemoteStopTransaction(transaction_id=transaction_id)
        )
        return str(answer["status"])

    async def reset(self, station_id: str, hard: bool) -> str:
        """Reset Soft or Hard."""
        answer = await self.send(station_id, call.Reset(type="Hard" if hard else "Soft"))
        return str(answer["status"])

    async def unlock(self, station_id: str, connector_id: int) -> str:
        """UnlockConnector; returns Unlocked, UnlockFailed or NotSupported."""
        answer = await self.send(station_id, call.UnlockConnector(connector_id=connector_id))
        return str(answer["status"])

    async def change_availability(self, station_id: str, connector_id: int, operative: bool) -> str:
        """ChangeAvailability; returns Accepted, Rejected or Scheduled."""
        answer = await self.send(
            station_id,
            call.ChangeAvailability(
                connector_id=connector_id, type="Operative" if operative else "Inoperative"
            ),
        )
        return str(answer["status"])
