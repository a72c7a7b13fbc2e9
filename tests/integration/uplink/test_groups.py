"""Groups mode: each group's stations go to their own CSMS, a local group stays here."""

from __future__ import annotations

from pathlib import Path

from ocpp.v16 import call

from evsite.clock import SystemClock
from evsite.config import parse_settings
from evsite.controller import Controller
from evsite.sim.csms import SimCsms, SimPki, wait_until
from evsite.store.badges import Badge
from tests.integration.uplink.conftest import UPSTREAM_PASSWORD, UplinkSite, boot


async def test_each_group_reaches_its_own_csms_and_the_local_group_none(
    tmp_path: Path, pki: SimPki, csms: SimCsms
) -> None:
    cert, key = pki.issue("csms-b", "localhost")
    other = SimCsms(cert, key, passwords={})
    await other.start()
    raw = {
        "ocpp": {"bind": "127.0.0.1", "port": 0},
        "uplink": {
            "mode": "groups",
            "ca_bank": str(pki.ca),
            "backoff_initial": 0.05,
            "backoff_max": 0.3,
            "connect_rate": 1000.0,
            "groups": {
                "fleet": {"url": csms.url(), "stations": ["CP-A"]},
                "visitors": {"url": other.url(), "stations": ["CP-B"]},
                "staff": {"stations": ["CP-C"]},
            },
        },
    }
    controller = Controller(parse_settings(raw), tmp_path / "data", SystemClock())
    ports = await controller.start()
    assert ports.ocpp_tls
    site = UplinkSite(controller, controller.uplink, ports.ocpp_tls, csms, pki)
    controller.badges.put(Badge("STAFF1"))
    try:
        keys = {sid: site.enroll(sid) for sid in ("CP-A", "CP-B", "CP-C")}
        for server in (csms, other):
            assert server.passwords is not None
            server.passwords.update({sid: UPSTREAM_PASSWORD for sid in keys})
        async with (
            site.station("CP-A", keys["CP-A"]) as a,
            site.station("CP-B", keys["CP-B"]) as b,
            site.station("CP-C", keys["CP-C"]) as c,
        ):
            for cp in (a, b, c):
                assert (await boot(cp)).status == "Accepted"
            await wait_until(lambda: "CP-A" in csms.points and "CP-B" in other.points)
            auth = await c.call(call.Authorize(id_tag="STAFF1"))
            assert auth.id_tag_info["status"] == "Accepted"  # answered from the local list
        assert {r.identity for r in csms.received} == {"CP-A"}
        assert {r.identity for r in other.received} == {"CP-B"}
    finally:
        await controller.stop()
        controller.db.close()
        await other.stop()
