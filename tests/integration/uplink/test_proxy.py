"""Proxy mode with the CSMS up: messages pass verbatim both ways, evsite keeps its records."""

from __future__ import annotations

import asyncio
import json

from ocpp.v16 import call

from evsite.sim.csms import wait_until
from tests.integration.ocpp.conftest import now
from tests.integration.uplink.conftest import UplinkSite, boot


def meter(value: float) -> list[dict[str, object]]:
    return [
        {
            "timestamp": now(),
            "sampledValue": [
                {"value": str(value), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                {"value": "16.0", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
            ],
        }
    ]


async def test_full_transaction_is_relayed_verbatim_and_recorded_locally(site: UplinkSite) -> None:
    key = site.enroll("CP-1")
    async with site.station("CP-1", key) as cp:
        assert (await boot(cp)).status == "Accepted"
        await site.online("CP-1")
        assert (await cp.call(call.Authorize(id_tag="TAG1"))).id_tag_info["status"] == "Accepted"
        start = await cp.call(
            call.StartTransaction(connector_id=1, id_tag="TAG1", meter_start=100, timestamp=now())
        )
        assert start.transaction_id >= site.csms.first_transaction_id  # the CSMS's own id
        tx = start.transaction_id
        await cp.call(call.MeterValues(connector_id=1, transaction_id=tx, meter_value=meter(600)))
        answer = await cp.call(call.DataTransfer(vendor_id="com.example", message_id="m", data="x"))
        assert answer.data == "echo:com.example"
        await cp.call(call.StopTransaction(transaction_id=tx, meter_stop=1100, timestamp=now()))
    received = site.csms.calls("CP-1")
    assert [r.action for r in received] == [
        "BootNotification",
        "Authorize",
        "StartTransaction",
        "MeterValues",
        "DataTransfer",
        "StopTransaction",
    ]
    # Same unique ids, same text: nothing re-serialized on the way.
    assert [r.raw for r in received] == cp.sent
    local = site.controller.transactions.history(station_id="CP-1")
    assert len(local) == 1 and local[0].energy_wh == 1000
    link = site.uplink.txmap.by_local_tx("CP-1", local[0].id)
    assert link is not None and link.csms_tx == tx and link.station_tx == tx
    assert site.uplink.outbox.pending_count() == 0
    view = site.controller.live.station("CP-1")
    assert view is not None and view.connectors[1].transaction_id is None


async def test_unknown_vendor_action_goes_to_the_csms_and_its_answer_comes_back(
    site: UplinkSite,
) -> None:
    key = site.enroll("CP-2")
    async with site.station("CP-2", key) as cp:
        await boot(cp)
        await site.online("CP-2")
        ws = cp._connection
        # Answers arrive through the station's reader task; take the next one off its queue.
        await ws.send('[2,"vendor-1","AcmeSpecial",{"x":1}]')
        answer = await asyncio.wait_for(cp._response_queue.get(), 5)
    assert answer.unique_id == "vendor-1"
    assert site.csms.calls("CP-2", "AcmeSpecial")[0].raw == '[2,"vendor-1","AcmeSpecial",{"x":1}]'


async def test_csms_requests_reach_the_station_with_their_own_unique_id(site: UplinkSite) -> None:
    key = site.enroll("CP-3")
    async with site.station("CP-3", key) as cp:
        await boot(cp)
        await site.online("CP-3")
        result = await site.csms.send(
            "CP-3", call.DataTransfer(vendor_id="com.csms", message_id="hello", data="d")
        )
        assert result.data == "from-station"
        result = await site.csms.send("CP-3", call.RemoteStopTransaction(transaction_id=77))
        assert result.status == "Accepted"
    assert ("DataTransfer", {"vendorId": "com.csms"}) in cp.requests
    assert ("RemoteStopTransaction", {"transactionId": 77}) in cp.requests


async def test_heartbeat_goes_up_and_the_station_gets_the_csms_time(site: UplinkSite) -> None:
    key = site.enroll("CP-4")
    async with site.station("CP-4", key) as cp:
        await boot(cp)
        await site.online("CP-4")
        await cp.call(call.Heartbeat())
    heartbeat = site.csms.calls("CP-4", "Heartbeat")[0]
    payload = json.loads(site.csms.answers[("CP-4", heartbeat.unique_id)])
    assert "currentTime" in payload[2]
    await wait_until(lambda: "CP-4" not in site.csms.points)  # the CSMS sees it leave too
