"""CSMS outages: stations keep charging, the outbox is replayed once, in order, ids remapped."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack

from ocpp.v16 import call

from evsite.sim.csms import wait_until
from evsite.store.badges import Badge
from tests.integration.ocpp.conftest import now
from tests.integration.uplink.conftest import Station, UplinkSite, boot
from tests.integration.uplink.test_proxy import meter

STATIONS = ["SF-1", "SF-2", "SF-3"]


async def start(cp: Station, tag: str, meter_start: int) -> int:
    answer = await cp.call(
        call.StartTransaction(connector_id=1, id_tag=tag, meter_start=meter_start, timestamp=now())
    )
    assert answer.id_tag_info["status"] == "Accepted"
    return int(answer.transaction_id)


async def charge(cp: Station, tx: int, wh: int) -> None:
    await cp.call(call.MeterValues(connector_id=1, transaction_id=tx, meter_value=meter(wh)))


async def stop(cp: Station, tx: int, wh: int) -> None:
    await cp.call(call.StopTransaction(transaction_id=tx, meter_stop=wh, timestamp=now()))


def csms_tx_ids(site: UplinkSite, identity: str) -> list[int]:
    """The ids the CSMS handed out to an identity's StartTransactions, in order."""
    ids = []
    for r in site.csms.calls(identity, "StartTransaction"):
        ids.append(json.loads(site.csms.answers[(identity, r.unique_id)])[2]["transactionId"])
    return ids


async def test_outage_in_the_middle_of_transactions_replays_everything_once_in_order(
    site: UplinkSite,
) -> None:
    site.controller.badges.put(Badge("TAG-SF"))
    keys = {s: site.enroll(s) for s in STATIONS}
    async with AsyncExitStack() as stack:
        cps = {s: await stack.enter_async_context(site.station(s, keys[s])) for s in STATIONS}
        for s, cp in cps.items():
            await boot(cp)
            await site.online(s)
        before: dict[str, int] = {}
        for cp in cps.values():
            before[cp.id] = await start(cp, "TAG-SF", 0)
            await charge(cp, before[cp.id], 100)

        await site.csms.stop()
        await wait_until(lambda: not any(site.uplink.is_available(s) for s in STATIONS))
        during: dict[str, int] = {}
        for cp in cps.values():
            await charge(cp, before[cp.id], 200)
            await stop(cp, before[cp.id], 300)
            during[cp.id] = await start(cp, "TAG-SF", 300)  # a local id, given offline
            await charge(cp, during[cp.id], 400)
            await cp.call(call.StatusNotification(1, "NoError", "Charging"))
            await cp.call(call.Heartbeat())  # answered locally, never journaled
        assert site.uplink.outbox.pending_count() == 5 * len(STATIONS)

        await site.csms.start()
        await wait_until(lambda: site.uplink.outbox.pending_count() == 0)
        for cp in cps.values():
            await charge(cp, during[cp.id], 500)  # after the outage, still the station's id
            await stop(cp, during[cp.id], 600)

    for s, cp in cps.items():
        received = site.csms.calls(s)
        assert not [r for r in site.csms.received if r.identity == s and r.duplicate]
        sent_ids = [json.loads(m)[1] for m in cp.sent if json.loads(m)[2] != "Heartbeat"]
        got_ids = [r.unique_id for r in received if r.action != "Heartbeat"]
        assert got_ids == sent_ids, "every message once, in the station's order"
        first, second = csms_tx_ids(site, s)
        assert first == before[s]
        assert during[s] < site.csms.first_transaction_id <= second
        for r in received:
            if r.action in ("MeterValues", "StopTransaction"):
                assert r.payload["transactionId"] in (first, second), "mapped to the CSMS's id"
        last_stop = site.csms.calls(s, "StopTransaction")[-1]
        assert last_stop.payload["transactionId"] == second
    local = site.controller.transactions.history(station_id="SF-1")
    assert sorted(t.energy_wh or 0 for t in local) == [300, 300]
