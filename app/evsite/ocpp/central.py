"""The central system's side of OCPP 1.6 Core and the security extension: station requests."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ocpp.v16 import call_result
from ocpp.v16.enums import RegistrationStatus

from evsite.clock import Clock, iso_utc
from evsite.ocpp.authorize import Authorizer
from evsite.ocpp.events import (
    EventBus,
    MeterSampled,
    StatusChanged,
    TransactionStarted,
    TransactionStopped,
)
from evsite.ocpp.frames import SECURITY_ERROR, FrameError
from evsite.ocpp.payloads import to_payload
from evsite.ocpp.session import Handler, StationSession
from evsite.store.audit import AuditSink
from evsite.store.stations import StationRepository
from evsite.store.transactions import Sample, StopResult, TransactionRepository

log = logging.getLogger("evsite.ocpp")


@dataclass(frozen=True)
class CentralSettings:
    """How the central system answers stations."""

    heartbeat_interval: int = 300
    pending_retry_interval: int = 60
    known_vendors: tuple[str, ...] = ("evsite",)


class CentralSystem:
    """Handles every request a station sends; stores what must be kept, publishes events."""

    def __init__(
        self,
        stations: StationRepository,
        transactions: TransactionRepository,
        authorizer: Authorizer,
        audit: AuditSink,
        events: EventBus,
        clock: Clock,
        settings: CentralSettings,
    ) -> None:
        self._stations = stations
        self._transactions = transactions
        self._authorizer = authorizer
        self._audit = audit
        self._events = events
        self._clock = clock
        self._settings = settings
        self._registration: dict[str, str] = {}

    def handlers(self) -> dict[str, Handler]:
        """The action -> handler table for a station session."""
        table: dict[str, Handler] = {
            "BootNotification": self.boot_notification,
            "Heartbeat": self.heartbeat,
            "StatusNotification": self.status_notification,
            "Authorize": self.authorize,
            "StartTransaction": self.start_transaction,
            "StopTransaction": self.stop_transaction,
            "MeterValues": self.meter_values,
            "DataTransfer": self.data_transfer,
            "DiagnosticsStatusNotification": self.acknowledge,
            "FirmwareStatusNotification": self.acknowledge,
            "LogStatusNotification": self.acknowledge,
            "SignedFirmwareStatusNotification": self.acknowledge,
            "SecurityEventNotification": self.security_event,
            "SignCertificate": self.sign_certificate,
        }
        return {action: self._guarded(action, h) for action, h in table.items()}

    def _guarded(self, action: str, handler: Handler) -> Handler:
        async def guarded(session: StationSession, payload: dict[str, Any]) -> dict[str, Any]:
            # A station the central system has rejected must boot again first (OCPP 1.6 4.2).
            if (
                action != "BootNotification"
                and self._registration.get(session.station_id) == RegistrationStatus.rejected
            ):
                raise FrameError(SECURITY_ERROR, "BootNotification was rejected")
            return await handler(session, payload)

        return guarded

    def _now(self) -> str:
        return iso_utc(self._clock.now())

    async def boot_notification(
        self, session: StationSession, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """Record who the station is; Accepted, Pending or Rejected as enrolled."""
        await self._stations.record_boot(
            session.station_id,
            payload["chargePointVendor"],
            payload["chargePointModel"],
            payload.get("chargePointSerialNumber") or payload.get("chargeBoxSerialNumber"),
            payload.get("firmwareVersion"),
        )
        record = self._stations.get(session.station_id)
        status = RegistrationStatus.accepted if record else RegistrationStatus.rejected
        self._registration[session.station_id] = status
        interval = (
            self._settings.heartbeat_interval
            if status == RegistrationStatus.accepted
            else self._settings.pending_retry_interval
        )
        return to_payload(
            call_result.BootNotification(current_time=self._now(), interval=interval, status=status)
        )

    async def heartbeat(self, session: StationSession, payload: dict[str, Any]) -> dict[str, Any]:
        """Answer with the current time."""
        return to_payload(call_result.Heartbeat(current_time=self._now()))

    async def status_notification(
        self, session: StationSession, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """Keep the connector's status and tell the app."""
        connector_id = int(payload["connectorId"])
        await self._transactions.set_connector_status(
            session.station_id,
            connector_id,
            payload["status"],
            payload["errorCode"],
            payload.get("info"),
        )
        self._events.publish(
            StatusChanged(session.station_id, connector_id, payload["status"], payload["errorCode"])
        )
        return {}

    async def authorize(self, session: StationSession, payload: dict[str, Any]) -> dict[str, Any]:
        """Decide from the badge list (or the configured strategy)."""
        decision = await self._authorizer.authorize(session.station_id, payload["idTag"])
        return {"idTagInfo": decision.id_tag_info()}

    async def start_transaction(
        self, session: StationSession, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """Record the transaction durably before answering; the id is ours."""
        id_tag = payload["idTag"]
        decision = await self._authorizer.authorize(session.station_id, id_tag)
        transaction_id = await self._transactions.start(
            session.station_id,
            int(payload["connectorId"]),
            id_tag,
            int(payload["meterStart"]),
            payload["timestamp"],
            payload.get("reservationId"),
        )
        info = decision.id_tag_info()
        if decision.status == "Accepted" and self._busy_elsewhere(id_tag, transaction_id):
            info["status"] = "ConcurrentTx"
        self._events.publish(
            TransactionStarted(
                session.station_id,
                int(payload["connectorId"]),
                transaction_id,
                id_tag,
                decision.vip,
            )
        )
        return {"transactionId": transaction_id, "idTagInfo": info}

    def _busy_elsewhere(self, id_tag: str, transaction_id: int) -> bool:
        return self._transactions.count_open_with_tag(id_tag, excluding=transaction_id) > 0

    async def stop_transaction(
        self, session: StationSession, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """Close the transaction once; a repeated stop is acknowledged and not counted twice."""
        transaction_id = int(payload["transactionId"])
        samples = list(_samples(payload.get("transactionData", [])))
        before = self._transactions.get(transaction_id)
        outcome = await self._transactions.stop(
            session.station_id,
            transaction_id,
            int(payload["meterStop"]),
            payload["timestamp"],
            payload.get("reason"),
            payload.get("idTag"),
            samples,
        )
        if outcome == StopResult.UNKNOWN:
            log.warning(
                "%s: StopTransaction for unknown transaction %s", session.station_id, transaction_id
            )
        elif outcome == StopResult.STOPPED and before is not None:
            self._events.publish(
                TransactionStopped(
                    session.station_id,
                    before.connector_id,
                    transaction_id,
                    max(0, int(payload["meterStop"]) - before.meter_start),
                )
            )
        result: dict[str, Any] = {}
        if payload.get("idTag"):
            decision = await self._authorizer.authorize(session.station_id, payload["idTag"])
            result["idTagInfo"] = decision.id_tag_info()
        return result

    async def meter_values(
        self, session: StationSession, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """Store the samples and publish the live currents."""
        connector_id = int(payload["connectorId"])
        transaction_id = payload.get("transactionId")
        samples = list(_samples(payload["meterValue"], connector_id))
        await self._transactions.add_samples(session.station_id, transaction_id, samples)
        self._events.publish(
            _live_values(session.station_id, connector_id, transaction_id, [s for _, s in samples])
        )
        return {}

    async def data_transfer(
        self, session: StationSession, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """No vendor extensions are served in standalone mode."""
        known = payload["vendorId"] in self._settings.known_vendors
        return {"status": "UnknownMessageId" if known else "UnknownVendorId"}

    async def acknowledge(self, session: StationSession, payload: dict[str, Any]) -> dict[str, Any]:
        """Status notifications that need only an empty answer."""
        log.info("%s: %s", session.station_id, payload)
        return {}

    async def security_event(
        self, session: StationSession, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """A station's security event goes into the audit log."""
        self._audit.record(
            "station.security_event",
            actor=session.station_id,
            source=session.address,
            detail={
                "type": payload["type"],
                "techInfo": payload.get("techInfo"),
                "timestamp": payload["timestamp"],
            },
        )
        return {}

    async def sign_certificate(
        self, session: StationSession, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """Certificate signing needs a CA this device does not hold: rejected, and audited."""
        self._audit.record(
            "station.csr_rejected",
            actor=session.station_id,
            source=session.address,
            outcome="rejected",
        )
        return {"status": "Rejected"}


def _samples(
    meter_values: Iterable[dict[str, Any]], connector_id: int = 0
) -> Iterable[tuple[int, Sample]]:
    for meter_value in meter_values:
        for sampled in meter_value["sampledValue"]:
            try:
                value = float(sampled["value"])
            except ValueError:
                continue  # a non-numeric value cannot be summed; the raw frame is in the log
            yield (
                connector_id,
                Sample(
                    meter_value["timestamp"],
                    sampled.get("measurand", "Energy.Active.Import.Register"),
                    sampled.get("phase"),
                    sampled.get("unit"),
                    sampled.get("context"),
                    value,
                ),
            )


_PHASES = {"L1": 0, "L2": 1, "L3": 2, "L1-N": 0, "L2-N": 1, "L3-N": 2}


def _live_values(
    station_id: str, connector_id: int, transaction_id: int | None, samples: list[Sample]
) -> MeterSampled:
    currents: list[float | None] = [None, None, None]
    power = energy = offered = None
    for s in samples:
        scale = 1000.0 if (s.unit or "").startswith("k") else 1.0
        if s.measurand == "Current.Import":
            if s.phase in _PHASES:
                currents[_PHASES[s.phase]] = s.value
            elif s.phase is None:
                currents[0] = s.value
        elif s.measurand == "Power.Active.Import" and s.phase is None:
            power = s.value * scale
        elif s.measurand == "Energy.Active.Import.Register" and s.phase is None:
            energy = s.value * scale
        elif s.measurand == "Current.Offered":
            offered = s.value
    return MeterSampled(
        station_id,
        connector_id,
        transaction_id,
        (currents[0], currents[1], currents[2]),
        power,
        energy,
        offered,
    )
