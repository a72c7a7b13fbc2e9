"""Neither side waits on the other: awkward moments and a slow CSMS."""

from __future__ import annotations

from typing import Any

from ocpp.v16 import call

from evsite.sim.csms import CsmsChargePoint, Received, wait_until
from evsite.store.badges import Badge
from tests.integration.ocpp.conftest import now
from tests.integration.uplink.conftest import UplinkSite, boot


async def test_remote_stop_during_a_pending_start_transaction_both_complete(
    site: UplinkSite,
) -> None:
    key = site.enroll("RS-1")
    outcome: dict[str, Any] = {}
    expected_tx = site.csms.first_transaction_id

    async def remote_stop_first(point: CsmsChargePoint, received: Received) -> None:
        # The CSMS holds its answer to StartTransaction until its RemoteStop is answered.
        outcome["remote"] = await site.csms.send(
            "RS-1", call.RemoteStopTransaction(transaction_id=expected_tx)
        )

    site.csms.hooks["StartTransaction"] = remote_stop_first
    async with site.station("RS-1", key) as cp:
        await boot(cp)
        await site.online("RS-1")
        answer = await cp.call(
            call.StartTransaction(connector_id=1, id_tag="T", meter_start=0, timestamp=now())
        )
    assert answer.transaction_id == expected_tx
    assert outcome["remote"].status == "Accepted"
    assert ("RemoteStopTransaction", {"transactionId": expected_tx}) in cp.requests


async def test_slow_csms_station_answered_locally_late_answer_kept_not_sent_twice(
    make_site: Any,
) -> None:
    site: UplinkSite = await make_site(upstream_timeout=0.3)
    site.controller.badges.put(Badge("SLOW"))
    key = site.enroll("SL-1")
    async with site.station("SL-1", key) as cp:
        await boot(cp)
        await site.online("SL-1")
        site.csms.delay = 1.0
        answer = await cp.call(
            call.StartTransaction(connector_id=1, id_tag="SLOW", meter_start=0, timestamp=now())
        )
        local_tx = answer.transaction_id
        assert local_tx < site.csms.first_transaction_id  # evsite's answer, in time
        assert answer.id_tag_info["status"] == "Accepted"  # known badge, offline strategy
        await wait_until(lambda: site.uplink.outbox.pending_count() == 0)
        site.csms.delay = 0
        await cp.call(call.StopTransaction(transaction_id=local_tx, meter_stop=50, timestamp=now()))
    starts = [r for r in site.csms.received if r.action == "StartTransaction"]
    assert len(starts) == 1, "the late answer was collected, the Start not sent again"
    stop = site.csms.calls("SL-1", "StopTransaction")[0]
    assert stop.payload["transactionId"] == site.csms.first_transaction_id
