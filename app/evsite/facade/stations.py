"""Enrollment and remote commands: who is served, and what a station is asked to do."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from ocpp.v16 import call

from evsite.facade.core import FacadeCore, parse_time
from evsite.facade.station_reads import stations_with_addresses
from evsite.ocpp.commands import NotConnected
from evsite.ocpp.keys import KeyError_, check_key, generate_key
from evsite.ocpp.server import station_id_from_path
from evsite.ocpp.session import CallFailed, InvalidRequest
from evsite.web.facade import (
    AddressSeen,
    CommandResult,
    DiscoverySource,
    EnrolledStation,
    FacadeError,
    PendingStation,
    ResetKind,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _valid_id(station_id: str) -> str:
    # The same rule the station server applies to the identity in the URL path.
    if station_id_from_path(f"/ocpp/{station_id}") != station_id:
        raise FacadeError(f"{station_id!r} is not a valid station identity")
    return station_id


class StationAdminPart(FacadeCore):
    """StationAdmin: enrolled, pending, add, approve, reject, remove."""

    def enrolled_stations(self) -> Sequence[EnrolledStation]:
        """Enrolled stations by id, each with the addresses it used (newest first)."""
        return [
            EnrolledStation(
                s.station_id,
                _time(s.created_at),
                tuple(
                    AddressSeen(a.address, _time(a.first_seen), _time(a.last_seen))
                    for a in s.addresses
                ),
            )
            for s in stations_with_addresses(self._reader)
        ]

    def pending_stations(self) -> Sequence[PendingStation]:
        """Enrollment requests, the most recent knock first."""
        pending = [
            PendingStation(
                p.station_id,
                p.address,
                cast(DiscoverySource, p.source),
                _time(p.first_seen),
                _time(p.last_seen),
                p.attempts,
            )
            for p in self._read_stations.pending()
        ]
        return sorted(pending, key=lambda p: p.last_seen, reverse=True)

    def add_station(self, station_id: str) -> str:
        """Enroll with a new key; the key is returned once and stored only hashed."""
        key = generate_key()
        self._bridge.run(self._enroll(_valid_id(station_id), key, pending=False))
        self._site_now.clear()
        return key

    def add_station_with_key(self, station_id: str, key: str) -> None:
        """Enroll with the installer's key (the station already holds it)."""
        try:
            check_key(key)
        except KeyError_ as exc:
            raise FacadeError(str(exc)) from None
        self._bridge.run(self._enroll(_valid_id(station_id), key, pending=False))
        self._site_now.clear()

    def approve_station(self, station_id: str) -> str | None:
        """Enroll a pending station with a new key, returned once."""
        key = generate_key()
        self._bridge.run(self._enroll(station_id, key, pending=True))
        self._site_now.clear()
        return key

    def reject_station(self, station_id: str) -> None:
        """Forget an enrollment request."""
        if not self._controller.stations.reject_pending(station_id):
            raise FacadeError(f"no pending station {station_id}")

    def remove_station(self, station_id: str) -> None:
        """Unenroll and cut the station's connection at once."""
        self._bridge.run(self._remove(station_id), self._bridge.timeout_s + 5)
        self._site_now.clear()

    async def _enroll(self, station_id: str, key: str, pending: bool) -> None:
        stations = self._controller.stations
        if pending and stations.get_pending(station_id) is None:
            raise FacadeError(f"no pending station {station_id}")
        if stations.exists(station_id):
            raise FacadeError(f"station {station_id} is already enrolled")
        try:
            stations.add(station_id, key, self._controller.settings.ocpp.default_security_profile)
        except sqlite3.IntegrityError:
            raise FacadeError(f"station {station_id} is already enrolled") from None

    async def _remove(self, station_id: str) -> None:
        if not self._controller.stations.remove(station_id):
            raise FacadeError(f"no station {station_id}")
        await self._controller.server.disconnect(station_id, "station removed")
        self._controller.live.forget(station_id)


class RemoteCommandsPart(FacadeCore):
    """RemoteCommands: each waits for the station's answer, or says why none came."""

    def remote_start(self, station_id: str, connector_id: int, id_tag: str) -> CommandResult:
        """RemoteStartTransaction."""
        return self._command(
            station_id, call.RemoteStartTransaction(id_tag=id_tag, connector_id=connector_id)
        )

    def remote_stop(self, station_id: str, transaction_id: int) -> CommandResult:
        """RemoteStopTransaction."""
        return self._command(station_id, call.RemoteStopTransaction(transaction_id=transaction_id))

    def unlock_connector(self, station_id: str, connector_id: int) -> CommandResult:
        """UnlockConnector."""
        return self._command(station_id, call.UnlockConnector(connector_id=connector_id))

    def reset(self, station_id: str, kind: ResetKind) -> CommandResult:
        """Reset, soft or hard."""
        return self._command(station_id, call.Reset(type=kind))

    def change_availability(
        self, station_id: str, connector_id: int, available: bool
    ) -> CommandResult:
        """ChangeAvailability (connector 0: the whole station)."""
        kind = "Operative" if available else "Inoperative"
        return self._command(
            station_id, call.ChangeAvailability(connector_id=connector_id, type=kind)
        )

    def _command(self, station_id: str, message: Any) -> CommandResult:
        timeout = self._command_timeout_s
        return self._bridge.run(self._send(station_id, message, timeout), timeout + 5)

    async def _send(self, station_id: str, message: Any, timeout: float) -> CommandResult:
        try:
            answer = await self._controller.commands.send(station_id, message, timeout)
        except NotConnected:
            return CommandResult("", "station not connected")
        except TimeoutError:
            return CommandResult("", f"timeout: no answer within {timeout:g} s")
        except CallFailed as exc:
            return CommandResult("", f"the station answered with an error: {exc}")
        except ConnectionError:
            return CommandResult("", "the station disconnected before answering")
        except InvalidRequest as exc:
            return CommandResult("", f"not sent: {exc}")
        return CommandResult(str(answer.get("status", "")))


def _time(text: str) -> datetime:
    return parse_time(text) or _EPOCH
