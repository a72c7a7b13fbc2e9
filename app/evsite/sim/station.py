"""A simulated charging station: a real OCPP 1.6J client built with the `ocpp` library.

It boots, reports status, lets cars arrive, authorize with their badge, charge
following the charging profiles it receives, send meter values, and leave.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import ssl
from dataclasses import dataclass, field
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from websockets.asyncio.client import ClientConnection, connect

from evsite.aio import wait_event
from evsite.clock import Clock, iso_utc
from evsite.sim.car import Car
from evsite.sim.profiles import ProfileStack, profile_from_payload

log = logging.getLogger("evsite.sim")


@dataclass
class StationBehaviour:
    """How a simulated station and its cars behave (all times in seconds)."""

    meter_interval: float = 10.0
    arrival_mean: float = 60.0
    dwell_min: float = 120.0
    dwell_max: float = 900.0
    hardware_max_a: float = 32.0
    reconnect_delay: float = 2.0
    faults: list[dict[str, Any]] = field(default_factory=list)


async def wait_any(events: tuple[asyncio.Event, ...], timeout: float) -> None:
    """Wait until one of the events is set or the timeout passes."""
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


class SimChargePoint(ChargePoint):  # type: ignore[misc]
    """The OCPP side of a simulated station: answers the central system's requests."""

    def __init__(self, station: SimStation, connection: ClientConnection) -> None:
        super().__init__(station.station_id, connection, response_timeout=30)
        self.station = station

    @on("SetChargingProfile")
    def on_set_charging_profile(
        self, connector_id: int, cs_charging_profiles: dict[str, Any]
    ) -> call_result.SetChargingProfile:
        from ocpp.charge_point import snake_to_camel_case

        profile = snake_to_camel_case(cs_charging_profiles)
        self.station.profiles.install(
            profile_from_payload(
                connector_id, profile, self.station.clock.now(), phases=self.station.phases_in_use()
            )
        )
        self.station.profile_changes += 1
        return call_result.SetChargingProfile(status="Accepted")

    @on("ClearChargingProfile")
    def on_clear_charging_profile(
        self,
        id: int | None = None,
        connector_id: int | None = None,
        charging_profile_purpose: str | None = None,
        stack_level: int | None = None,
    ) -> call_result.ClearChargingProfile:
        cleared = self.station.profiles.clear(id, charging_profile_purpose)
        return call_result.ClearChargingProfile(status="Accepted" if cleared else "Unknown")

    @on("GetCompositeSchedule")
    def on_get_composite_schedule(
        self, connector_id: int, duration: int, charging_rate_unit: str | None = None
    ) -> call_result.GetCompositeSchedule:
        limit = self.station.profiles.limit(self.station.clock.now(), connector_id)
        return call_result.GetCompositeSchedule(
            status="Accepted",
            connector_id=connector_id,
            schedule_start=iso_utc(self.station.clock.now()),
            charging_schedule={
                "duration": duration,
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": round(limit, 1)}],
            },
        )

    @on("RemoteStartTransaction")
    def on_remote_start(
        self,
        id_tag: str,
        connector_id: int | None = None,
        charging_profile: dict[str, Any] | None = None,
    ) -> call_result.RemoteStartTransaction:
        accepted = self.station.car is None
        if accepted:
            self.station.arrive(Car.random(self.station.rng, id_tag), remote=True)
        return call_result.RemoteStartTransaction(status="Accepted" if accepted else "Rejected")

    @on("RemoteStopTransaction")
    def on_remote_stop(self, transaction_id: int) -> call_result.RemoteStopTransaction:
        ours = transaction_id == self.station.transaction_id
        if ours:
            self.station.leave_soon.set()
        return call_result.RemoteStopTransaction(status="Accepted" if ours else "Rejected")

    @on("Reset")
    def on_reset(self, type: str) -> call_result.Reset:
        self.station.reset_requested = True
        self.station.leave_soon.set()
        return call_result.Reset(status="Accepted")

    @on("UnlockConnector")
    def on_unlock(self, connector_id: int) -> call_result.UnlockConnector:
        if connector_id != 1:
            return call_result.UnlockConnector(status="NotSupported")
        return call_result.UnlockConnector(status="Unlocked")

    @on("ChangeAvailability")
    def on_change_availability(
        self, connector_id: int, type: str
    ) -> call_result.ChangeAvailability:
        self.station.available = type == "Operative"
        return call_result.ChangeAvailability(status="Accepted")

    @on("GetConfiguration")
    def on_get_configuration(self, key: list[str] | None = None) -> call_result.GetConfiguration:
        known = self.station.configuration
        wanted = key or list(known)
        return call_result.GetConfiguration(
            configuration_key=[
                {"key": k, "readonly": False, "value": known[k]} for k in wanted if k in known
            ],
            unknown_key=[k for k in wanted if k not in known] or None,
        )

    @on("ChangeConfiguration")
    def on_change_configuration(self, key: str, value: str) -> call_result.ChangeConfiguration:
        if key not in self.station.configuration:
            return call_result.ChangeConfiguration(status="NotSupported")
        self.station.configuration[key] = value
        return call_result.ChangeConfiguration(status="Accepted")

    @on("ClearCache")
    def on_clear_cache(self) -> call_result.ClearCache:
        return call_result.ClearCache(status="Accepted")

    @on("TriggerMessage")
    def on_trigger(
        self, requested_message: str, connector_id: int | None = None
    ) -> call_result.TriggerMessage:
        if requested_message not in (
            "StatusNotification",
            "MeterValues",
            "Heartbeat",
            "BootNotification",
        ):
            return call_result.TriggerMessage(status="NotImplemented")
        self.station.triggered.append(requested_message)
        return call_result.TriggerMessage(status="Accepted")

    @on("SendLocalList")
    def on_send_local_list(
        self,
        list_version: int,
        update_type: str,
        local_authorization_list: list[dict[str, Any]] | None = None,
    ) -> call_result.SendLocalList:
        self.station.local_list_version = list_version
        return call_result.SendLocalList(status="Accepted")

    @on("GetLocalListVersion")
    def on_get_local_list_version(self) -> call_result.GetLocalListVersion:
        return call_result.GetLocalListVersion(list_version=self.station.local_list_version)

    @on("DataTransfer")
    def on_data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: str | None = None
    ) -> call_result.DataTransfer:
        return call_result.DataTransfer(status="UnknownVendorId")


class SimStation:
    """A station with one connector and, now and then, a car."""

    def __init__(
        self,
        station_id: str,
        key: str,
        url: str,
        tls: ssl.SSLContext | None,
        clock: Clock,
        rng: random.Random,
        behaviour: StationBehaviour,
        badges: list[str],
    ) -> None:
        self.station_id = station_id
        self.key = key
        self.url = url
        self.tls = tls
        self.clock = clock
        self.rng = rng
        self.behaviour = behaviour
        self.badges = badges
        self.profiles = ProfileStack(behaviour.hardware_max_a)
        self.car: Car | None = None
        self.transaction_id: int | None = None
        self.energy_wh = 0.0
        self.current_a = 0.0
        self.available = True
        self.reset_requested = False
        self.leave_soon = asyncio.Event()
        self.triggered: list[str] = []
        self.local_list_version = 0
        self.profile_changes = 0
        self.configuration = {
            "HeartbeatInterval": "300",
            "MeterValueSampleInterval": "10",
            "MeterValuesSampledData": "Current.Import,Power.Active.Import,"
            "Energy.Active.Import.Register",
            "StopTransactionOnInvalidId": "true",
            "AuthorizeRemoteTxRequests": "false",
        }
        self.cp: SimChargePoint | None = None
        self._ws: ClientConnection | None = None
        self._offline_until = 0.0
        self.faults_injected = 0
        self.connected = asyncio.Event()
        self._arrived = asyncio.Event()
        self._remote_start = False

    def phases_in_use(self) -> int:
        """Phases the car in the connector charges on (3 when empty)."""
        return self.car.phases if self.car else 3

    def arrive(self, car: Car, remote: bool = False) -> None:
        """A car plugs in."""
        self.car = car
        self._remote_start = remote
        self._arrived.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Stay connected (reconnecting after a reset or an outage) until stop is set."""
        faults = asyncio.create_task(self._inject_faults(stop))
        try:
            while not stop.is_set():
                try:
                    await self._connected_session(stop)
                except (TimeoutError, OSError) as exc:
                    log.debug("%s: connection failed: %r", self.station_id, exc)
                except Exception as exc:  # websockets.ConnectionClosed, InvalidStatus, ...
                    log.debug("%s: session ended: %r", self.station_id, exc)
                self.connected.clear()
                away = max(
                    self.behaviour.reconnect_delay, self._offline_until - self.clock.monotonic()
                )
                await wait_event(stop, away)
        finally:
            faults.cancel()

    async def _inject_faults(self, stop: asyncio.Event) -> None:
        """Faults as data: {"at": s, "fault": "disconnect"|"malformed_frame", "duration": s}."""
        started = self.clock.monotonic()
        for fault in sorted(self.behaviour.faults, key=lambda f: float(f.get("at", 0))):
            delay = started + float(fault.get("at", 0)) - self.clock.monotonic()
            await wait_event(stop, max(0.0, delay))
            if stop.is_set():
                return
            await self.connected.wait()
            ws = self._ws
            if ws is None:
                continue
            log.info("%s: injecting fault %s", self.station_id, fault)
            if fault["fault"] == "disconnect":
                self._offline_until = self.clock.monotonic() + float(fault.get("duration", 0))
                ws.transport.abort()
            elif fault["fault"] == "malformed_frame":
                await ws.send("{this is not OCPP")
            self.faults_injected += 1

    async def _connected_session(self, stop: asyncio.Event) -> None:
        token = base64.b64encode(f"{self.station_id}:{self.key}".encode()).decode()
        async with connect(
            f"{self.url}/{self.station_id}",
            ssl=self.tls,
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            additional_headers={"Authorization": f"Basic {token}"},
            compression=None,
            open_timeout=20,
        ) as ws:
            self._ws = ws
            self.cp = SimChargePoint(self, ws)
            receiver = asyncio.create_task(self.cp.start())
            life = asyncio.create_task(self._boot_and_live(stop))
            try:
                # Whichever ends first ends the session: a lost connection stops the car's
                # life at once, and a reset or stop ends the receiver.
                await asyncio.wait({receiver, life}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                receiver.cancel()
                life.cancel()
            if life.done() and not life.cancelled() and life.exception():
                raise life.exception()  # type: ignore[misc]

    async def _boot_and_live(self, stop: asyncio.Event) -> None:
        await self._boot()
        self.connected.set()
        self.reset_requested = False
        await self._life(stop)

    async def _boot(self) -> None:
        assert self.cp is not None
        answer = await self.cp.call(
            call.BootNotification(
                charge_point_vendor="evsite-sim",
                charge_point_model="SimBox 22",
                charge_point_serial_number=f"SIM-{self.station_id}",
                firmware_version="1.0",
            )
        )
        if answer is None or answer.status != "Accepted":
            raise ConnectionError(f"boot not accepted: {answer}")
        await self._status("Available" if self.car is None else "Charging")

    async def _status(self, status: str, connector_id: int = 1) -> None:
        assert self.cp is not None
        await self.cp.call(
            call.StatusNotification(
                connector_id=connector_id,
                error_code="NoError",
                status=status,
                timestamp=iso_utc(self.clock.now()),
            )
        )

    async def _life(self, stop: asyncio.Event) -> None:
        while not stop.is_set() and not self.reset_requested:
            if self.car is None:
                await self._wait_for_car(stop)
                continue
            await self._charge(stop)

    async def _wait_for_car(self, stop: asyncio.Event) -> None:
        delay = self.rng.expovariate(1.0 / self.behaviour.arrival_mean)
        waiter = asyncio.create_task(self._arrived.wait())
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait(
                {waiter, stopper}, timeout=delay, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            waiter.cancel()
            stopper.cancel()
        if stop.is_set() or not self.available:
            return
        if self.car is None and self.badges:
            self.arrive(Car.random(self.rng, self.rng.choice(self.badges)))

    async def _charge(self, stop: asyncio.Event) -> None:
        assert self.cp is not None and self.car is not None
        self._arrived.clear()
        self.leave_soon.clear()
        await self._status("Preparing")
        if not self._remote_start:
            auth = await self.cp.call(call.Authorize(id_tag=self.car.badge))
            if auth is None or auth.id_tag_info["status"] != "Accepted":
                await self._car_leaves("Invalid")
                return
        started = await self.cp.call(
            call.StartTransaction(
                connector_id=1,
                id_tag=self.car.badge,
                meter_start=int(self.energy_wh),
                timestamp=iso_utc(self.clock.now()),
            )
        )
        self.transaction_id = started.transaction_id
        if started.id_tag_info["status"] != "Accepted":
            await self._stop_transaction("DeAuthorized")
            return
        await self._status("Charging")
        dwell = self.rng.uniform(self.behaviour.dwell_min, self.behaviour.dwell_max)
        ends_at = self.clock.monotonic() + dwell
        last = self.clock.monotonic()
        while not stop.is_set() and not self.leave_soon.is_set():
            await wait_any((stop, self.leave_soon), self.behaviour.meter_interval)
            now = self.clock.monotonic()
            self.energy_wh += self.car.charge(self.current_a, now - last)
            last = now
            self.current_a = self.car.draw(self.profiles.limit(self.clock.now()))
            await self._meter_values()
            if now >= ends_at or self.car.full:
                break
        if not stop.is_set():
            await self._stop_transaction("Remote" if self.leave_soon.is_set() else "EVDisconnected")

    async def _meter_values(self) -> None:
        assert self.cp is not None and self.car is not None
        phases = ["L1", "L2", "L3"][: self.car.phases]
        sampled = [
            {
                "value": f"{self.current_a:.1f}",
                "measurand": "Current.Import",
                "phase": p,
                "unit": "A",
            }
            for p in phases
        ]
        sampled.append(
            {
                "value": f"{self.current_a * 230 * self.car.phases:.0f}",
                "measurand": "Power.Active.Import",
                "unit": "W",
            }
        )
        sampled.append(
            {
                "value": f"{self.energy_wh:.0f}",
                "measurand": "Energy.Active.Import.Register",
                "unit": "Wh",
            }
        )
        sampled.append(
            {
                "value": f"{self.profiles.limit(self.clock.now()):.1f}",
                "measurand": "Current.Offered",
                "unit": "A",
            }
        )
        await self.cp.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=self.transaction_id,
                meter_value=[{"timestamp": iso_utc(self.clock.now()), "sampledValue": sampled}],
            )
        )

    async def _stop_transaction(self, reason: str) -> None:
        assert self.cp is not None and self.car is not None
        if self.transaction_id is not None:
            await self.cp.call(
                call.StopTransaction(
                    transaction_id=self.transaction_id,
                    meter_stop=int(self.energy_wh),
                    timestamp=iso_utc(self.clock.now()),
                    reason=reason,
                    id_tag=self.car.badge,
                )
            )
        self.profiles.clear_transaction_profiles()
        await self._car_leaves("Finishing")

    async def _car_leaves(self, _why: str) -> None:
        await self._status("Finishing")
        self.car = None
        self.current_a = 0.0
        self.transaction_id = None
        await self._status("Available")
