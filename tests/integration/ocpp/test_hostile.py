"""Hostile input: every malformed frame gets the OCPP-J 1.6 CALLERROR or a closed connection."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
from ocpp.v16 import call
from websockets.exceptions import ConnectionClosed

from tests.integration.ocpp.conftest import Site, boot, now, raw_exchange

BOOT = '{"chargePointVendor":"V","chargePointModel":"M"}'


@pytest.mark.parametrize(
    ("frame", "code", "answer_id"),
    [
        ("this is not json", "FormationViolation", "-1"),
        ('{"an": "object"}', "FormationViolation", "-1"),
        ("[]", "FormationViolation", "-1"),
        ('[9,"id-1",{}]', "ProtocolError", "id-1"),
        ('[2,"id-2","BootNotification"]', "FormationViolation", "id-2"),
        ('[2,"id-3","BootNotification",[]]', "FormationViolation", "id-3"),
        (
            '[2,"id-4","BootNotification",{"chargePointVendor":"V"}]',
            "OccurenceConstraintViolation",
            "id-4",
        ),
        (
            '[2,"id-5","BootNotification",{"chargePointVendor":"V","chargePointModel":"M","x":1}]',
            "FormationViolation",
            "id-5",
        ),
        (
            '[2,"id-6","BootNotification",{"chargePointVendor":7,"chargePointModel":"M"}]',
            "TypeConstraintViolation",
            "id-6",
        ),
        (
            '[2,"id-7","StatusNotification",{"connectorId":1,"errorCode":"NoError",'
            '"status":"Sleeping"}]',
            "PropertyConstraintViolation",
            "id-7",
        ),
        (
            '[2,"id-8","StatusNotification",{"connectorId":1,"errorCode":"NoError",'
            '"status":"Available","timestamp":"last tuesday"}]',
            "TypeConstraintViolation",
            "id-8",
        ),
        (
            '[2,"id-9","BootNotification",{"chargePointVendor":"' + "V" * 21 + '",'
            '"chargePointModel":"M"}]',
            "PropertyConstraintViolation",
            "id-9",
        ),
        ('[2,"id-10","FlyToTheMoon",{}]', "NotImplemented", "id-10"),
        ('[2,"id-11","RemoteStartTransaction",{"idTag":"X"}]', "NotSupported", "id-11"),
        ('[2,"' + "x" * 37 + '","Heartbeat",{}]', "FormationViolation", "x" * 37),
        ("[" * 5000 + "]" * 5000, "FormationViolation", "-1"),
    ],
)
async def test_malformed_frame_gets_the_prescribed_callerror(
    site: Site, frame: str, code: str, answer_id: str
) -> None:
    key = site.enroll("CP-1")
    async with site.raw("CP-1", key) as ws:
        answer = await raw_exchange(ws, frame)
        assert answer[0] == 4
        assert answer[1] == answer_id
        assert answer[2] == code
        assert isinstance(answer[3], str)
        assert answer[3]
        # The connection still serves valid requests afterwards.
        ok = await raw_exchange(ws, '[2,"after","Heartbeat",{}]')
        assert ok[:2] == [3, "after"]


async def test_a_valid_boot_over_raw_frames_is_answered(site: Site) -> None:
    key = site.enroll("CP-1")
    async with site.raw("CP-1", key) as ws:
        answer = await raw_exchange(ws, f'[2,"b1","BootNotification",{BOOT}]')
        assert answer[0] == 3
        assert answer[2]["status"] == "Accepted"


async def test_oversized_frame_closes_the_connection(site: Site) -> None:
    key = site.enroll("CP-1")
    async with site.raw("CP-1", key) as ws:
        await ws.send('[2,"big","DataTransfer",{"vendorId":"V","data":"' + "x" * 70_000 + '"}]')
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == 1009


async def test_binary_frames_are_rejected(site: Site) -> None:
    key = site.enroll("CP-1")
    async with site.raw("CP-1", key) as ws:
        await ws.send(b'[2,"bin","Heartbeat",{}]')
        answer = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert answer[2] == "FormationViolation"


async def test_a_flood_disconnects_the_flooder_and_not_its_neighbour(site: Site) -> None:
    flooder_key = site.enroll("FLOOD")
    neighbour_key = site.enroll("CALM")
    async with site.station("CALM", neighbour_key) as calm:
        await boot(calm)
        async with site.raw("FLOOD", flooder_key) as ws:

            async def drain() -> None:
                with contextlib.suppress(ConnectionClosed):
                    async for _ in ws:
                        pass

            reader = asyncio.create_task(drain())
            with pytest.raises(ConnectionClosed):
                for n in range(1000):  # bounded: the guard allows a burst of 100
                    await ws.send(f'[2,"f{n}","Heartbeat",{{}}]')
                    await asyncio.sleep(0)
            await asyncio.wait_for(reader, 5)
            assert ws.close_code == 1008
        beat = await calm.call(call.Heartbeat())
        assert beat.current_time
    events = [r for r in site.controller.audit.records() if r.event == "station.disconnected_abuse"]
    assert [e.actor for e in events] == ["FLOOD"]


async def test_repeated_malformed_frames_close_the_connection(site: Site) -> None:
    key = site.enroll("CP-1")
    async with site.raw("CP-1", key) as ws:
        with pytest.raises(ConnectionClosed):
            for _ in range(30):
                await raw_exchange(ws, "garbage")
        assert ws.close_code == 1008


async def test_a_slow_handler_does_not_stall_the_connection(site: Site) -> None:
    """An Authorize stuck on a slow backend must not hold up the station's Heartbeat."""
    release = asyncio.Event()

    class SlowAuthorizer:
        async def authorize(self, station_id: str, id_tag: str):  # type: ignore[no-untyped-def]
            from evsite.ocpp.authorize import Authorization

            await release.wait()
            return Authorization("Accepted")

    site.controller.central._authorizer = SlowAuthorizer()
    key = site.enroll("CP-1")
    async with site.raw("CP-1", key) as ws:
        await ws.send('[2,"slow","Authorize",{"idTag":"ABC"}]')
        beat = await raw_exchange(ws, '[2,"quick","Heartbeat",{}]')
        assert beat[:2] == [3, "quick"]
        release.set()
        auth = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert auth[:2] == [3, "slow"]
        assert auth[2]["idTagInfo"]["status"] == "Accepted"


async def test_rejected_boot_blocks_other_requests(site: Site) -> None:
    """A station removed while connected gets Rejected and cannot transact."""
    key = site.enroll("CP-1")
    # The store watcher would cut the removed station off at once (that has its own test);
    # here the station must stay on long enough to send a BootNotification.
    assert site.controller._watcher is not None
    site.controller._watcher.cancel()
    async with site.raw("CP-1", key) as ws:
        # Once the connection is recorded, removal no longer cuts the handshake short.
        for _ in range(100):
            if site.controller.stations.addresses("CP-1"):
                break
            await asyncio.sleep(0.02)
        site.controller.stations.remove("CP-1")
        answer = await raw_exchange(ws, f'[2,"b","BootNotification",{BOOT}]')
        assert answer[2]["status"] == "Rejected"
        start = await raw_exchange(
            ws,
            '[2,"s","StartTransaction",{"connectorId":1,'
            f'"idTag":"A","meterStart":0,"timestamp":"{now()}"}}]',
        )
        assert start[2] == "SecurityError"
