"""OCPP 1.6 Core as the central system: transactions, meter values, authorization, commands."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from ocpp.v16 import call

from evsite.clock import SystemClock
from evsite.ocpp.commands import NotConnected
from evsite.ocpp.events import Event, MeterSampled, TransactionStarted, TransactionStopped
from evsite.ocpp.session import InvalidRequest
from evsite.sim.station import SimStation, StationBehaviour
from evsite.store.badges import Badge
from tests.integration.ocpp.conftest import Site, boot, now


def add_badges(site: Site) -> None:
    site.controller.badges.put(Badge("GOOD", label="driver"))
    site.controller.badges.put(Badge("VIPTAG", vip=True))
    site.controller.badges.put(Badge("BLOCKED", status="Blocked"))
    site.controller.badges.put(Badge("OLD", expiry="2020-01-01T00:00:00Z"))


@pytest.mark.parametrize(
    ("tag", "status"),
    [
        ("GOOD", "Accepted"),
        ("good", "Accepted"),
        ("BLOCKED", "Blocked"),
        ("OLD", "Expired"),
        ("NOBODY", "Invalid"),
    ],
)
async def test_authorize_answers_from_the_badge_list(site: Site, tag: str, status: str) -> None:
    add_badges(site)
    key = site.enroll("CP-1")
    async with site.station("CP-1", key) as cp:
        await boot(cp)
        answer = await cp.call(call.Authorize(id_tag=tag))
        assert answer.id_tag_info["status"] == status


async def test_full_transaction_is_recorded_and_published(site: Site) -> None:
    add_badges(site)
    seen: list[Event] = []
    site.controller.events.subscribe(seen.append)
    key = site.enroll("CP-1")
    async with site.station("CP-1", key) as cp:
        await boot(cp)
        await cp.call(
            call.StatusNotification(
                connector_id=1, error_code="NoError", status="Preparing", timestamp=now()
            )
        )
        started = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="VIPTAG", meter_start=1000, timestamp=now()
            )
        )
        assert started.id_tag_info["status"] == "Accepted"
        tx = started.transaction_id
        await cp.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=tx,
                meter_value=[
                    {
                        "timestamp": now(),
                        "sampledValue": [
                            {
                                "value": "15.5",
                                "measurand": "Current.Import",
                                "phase": "L1",
                                "unit": "A",
                            },
                            {
                                "value": "15.0",
                                "measurand": "Current.Import",
                                "phase": "L2",
                                "unit": "A",
                            },
                            {
                                "value": "14.5",
                                "measurand": "Current.Import",
                                "phase": "L3",
                                "unit": "A",
                            },
                            {"value": "10.5", "measurand": "Power.Active.Import", "unit": "kW"},
                            {
                                "value": "1500",
                                "measurand": "Energy.Active.Import.Register",
                                "unit": "Wh",
                            },
                        ],
                    }
                ],
            )
        )
        live = site.controller.live.station("CP-1")
        assert live is not None
        assert live.connectors[1].currents_a == (15.5, 15.0, 14.5)
        assert live.connectors[1].power_w == 10500
        stopped = await cp.call(
            call.StopTransaction(
                transaction_id=tx,
                meter_stop=4500,
                timestamp=now(),
                id_tag="VIPTAG",
                reason="EVDisconnected",
                transaction_data=[
                    {
                        "timestamp": now(),
                        "sampledValue": [
                            {"value": "4500", "measurand": "Energy.Active.Import.Register"}
                        ],
                    }
                ],
            )
        )
        assert stopped.id_tag_info["status"] == "Accepted"
    record = site.controller.transactions.get(tx)
    assert record is not None
    assert (record.meter_start, record.meter_stop, record.energy_wh) == (1000, 4500, 3500)
    assert record.stop_reason == "EVDisconnected"
    assert len(site.controller.transactions.samples(tx)) == 6
    kinds = [type(e) for e in seen]
    assert TransactionStarted in kinds
    assert MeterSampled in kinds
    assert TransactionStopped in kinds
    started_event = next(e for e in seen if isinstance(e, TransactionStarted))
    assert started_event.vip


async def test_repeated_stop_is_acknowledged_and_counted_once(site: Site) -> None:
    add_badges(site)
    key = site.enroll("CP-1")
    stops: list[Event] = []
    site.controller.events.subscribe(
        lambda e: stops.append(e) if isinstance(e, TransactionStopped) else None
    )
    async with site.station("CP-1", key) as cp:
        await boot(cp)
        tx = (
            await cp.call(
                call.StartTransaction(connector_id=1, id_tag="GOOD", meter_start=0, timestamp=now())
            )
        ).transaction_id
        for meter_stop in (2000, 2000, 9999):
            answer = await cp.call(
                call.StopTransaction(transaction_id=tx, meter_stop=meter_stop, timestamp=now())
            )
            assert answer is not None
    assert len(stops) == 1
    record = site.controller.transactions.get(tx)
    assert record is not None
    assert record.energy_wh == 2000


async def test_repeated_start_gets_the_same_transaction_id(site: Site) -> None:
    add_badges(site)
    key = site.enroll("CP-1")
    async with site.station("CP-1", key) as cp:
        await boot(cp)
        moment = now()
        first = await cp.call(
            call.StartTransaction(connector_id=1, id_tag="GOOD", meter_start=7, timestamp=moment)
        )
        again = await cp.call(
            call.StartTransaction(connector_id=1, id_tag="GOOD", meter_start=7, timestamp=moment)
        )
        assert first.transaction_id == again.transaction_id
    assert site.controller.transactions.count() == 1


async def test_start_with_invalid_tag_still_gets_an_id_and_is_flagged(site: Site) -> None:
    key = site.enroll("CP-1")
    async with site.station("CP-1", key) as cp:
        await boot(cp)
        started = await cp.call(
            call.StartTransaction(connector_id=1, id_tag="NOBODY", meter_start=0, timestamp=now())
        )
        assert started.transaction_id > 0
        assert started.id_tag_info["status"] == "Invalid"


async def test_concurrent_use_of_one_badge_is_reported(site: Site) -> None:
    add_badges(site)
    key = site.enroll("CP-1")
    async with site.station("CP-1", key) as cp:
        await boot(cp)
        await cp.call(
            call.StartTransaction(connector_id=1, id_tag="GOOD", meter_start=0, timestamp=now())
        )
        second = await cp.call(
            call.StartTransaction(connector_id=2, id_tag="GOOD", meter_start=0, timestamp=now())
        )
        assert second.id_tag_info["status"] == "ConcurrentTx"


async def test_status_notifications_are_kept_per_connector(site: Site) -> None:
    key = site.enroll("CP-1")
    async with site.station("CP-1", key) as cp:
        await boot(cp)
        for connector, status in ((0, "Available"), (1, "Charging"), (2, "Faulted")):
            await cp.call(
                call.StatusNotification(
                    connector_id=connector,
                    status=status,
                    error_code="NoError" if status != "Faulted" else "GroundFailure",
                )
            )
    live = site.controller.live.station("CP-1")
    assert live is not None
    assert {c: v.status for c, v in live.connectors.items()} == {
        0: "Available",
        1: "Charging",
        2: "Faulted",
    }


async def test_data_transfer_from_unknown_vendor(site: Site) -> None:
    key = site.enroll("CP-1")
    async with site.station("CP-1", key) as cp:
        answer = await cp.call(call.DataTransfer(vendor_id="acme", message_id="x", data="y"))
        assert answer.status == "UnknownVendorId"


async def test_security_event_goes_into_the_audit_log(site: Site) -> None:
    key = site.enroll("CP-1")
    async with site.station("CP-1", key) as cp:
        await cp.call(
            call.SecurityEventNotification(
                type="TamperDetectionActivated", timestamp=now(), tech_info="lid open"
            )
        )
    events = [r for r in site.controller.audit.records() if r.event == "station.security_event"]
    assert events[0].detail["type"] == "TamperDetectionActivated"
    assert events[0].actor == "CP-1"


async def sim_station(
    site: Site, station_id: str
) -> tuple[SimStation, asyncio.Event, asyncio.Task[None]]:
    key = site.enroll(station_id)
    stop = asyncio.Event()
    station = SimStation(
        station_id,
        key,
        site.url,
        site.tls,
        SystemClock(),
        random.Random(1),
        StationBehaviour(arrival_mean=3600, meter_interval=0.2),
        ["GOOD"],
    )
    task = asyncio.create_task(station.run(stop))
    await asyncio.wait_for(station.connected.wait(), 10)
    return station, stop, task


async def test_commands_reach_a_real_station_and_return_its_answers(site: Site) -> None:
    add_badges(site)
    station, stop, task = await sim_station(site, "SIM-1")
    commands = site.controller.commands
    try:
        assert await commands.unlock("SIM-1", 1) == "Unlocked"
        assert await commands.unlock("SIM-1", 5) == "NotSupported"
        assert await commands.change_availability("SIM-1", 0, operative=True) == "Accepted"
        config = await commands.send(
            "SIM-1", call.GetConfiguration(key=["HeartbeatInterval", "Nope"])
        )
        assert config["configurationKey"][0]["value"] == "300"
        assert config["unknownKey"] == ["Nope"]
        changed = await commands.send(
            "SIM-1", call.ChangeConfiguration(key="HeartbeatInterval", value="60")
        )
        assert changed["status"] == "Accepted"
        assert (await commands.send("SIM-1", call.ClearCache()))["status"] == "Accepted"
        trig = await commands.send(
            "SIM-1", call.TriggerMessage(requested_message="StatusNotification")
        )
        assert trig["status"] == "Accepted"
        profile: dict[str, Any] = {
            "chargingProfileId": 7,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10.0}],
            },
        }
        answer = await commands.send(
            "SIM-1", call.SetChargingProfile(connector_id=1, cs_charging_profiles=profile)
        )
        assert answer["status"] == "Accepted"
        schedule = await commands.send(
            "SIM-1", call.GetCompositeSchedule(connector_id=1, duration=60)
        )
        assert schedule["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] == 10.0
        cleared = await commands.send("SIM-1", call.ClearChargingProfile(id=7))
        assert cleared["status"] == "Accepted"
        sent = await commands.send(
            "SIM-1",
            call.SendLocalList(
                list_version=3,
                update_type="Full",
                local_authorization_list=[{"idTag": "GOOD", "idTagInfo": {"status": "Accepted"}}],
            ),
        )
        assert sent["status"] == "Accepted"
        version = await commands.send("SIM-1", call.GetLocalListVersion())
        assert version["listVersion"] == 3
        # Remote start -> a real transaction -> remote stop.
        assert await commands.remote_start("SIM-1", 1, "GOOD") == "Accepted"
        for _ in range(100):
            if station.transaction_id:
                break
            await asyncio.sleep(0.05)
        assert station.transaction_id
        assert await commands.remote_stop("SIM-1", station.transaction_id) == "Accepted"
        assert await commands.remote_stop("SIM-1", 999_999) == "Rejected"
        assert await commands.reset("SIM-1", hard=False) == "Accepted"
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


async def test_command_to_a_disconnected_station_says_so(site: Site) -> None:
    site.enroll("CP-1")
    with pytest.raises(NotConnected):
        await site.controller.commands.unlock("CP-1", 1)


async def test_invalid_command_payload_is_refused_before_sending(site: Site) -> None:
    station, stop, task = await sim_station(site, "SIM-2")
    try:
        session = site.controller.server.session("SIM-2")
        assert session is not None
        with pytest.raises(InvalidRequest, match="Sideways"):
            await session.call("Reset", {"type": "Sideways"})
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
    assert station.station_id == "SIM-2"
