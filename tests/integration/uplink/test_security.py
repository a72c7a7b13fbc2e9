"""Upstream security: the CSMS certificate is validated, failures are audited, profiles hold."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from ocpp.v16 import call

from evsite.sim.csms import SimCsms, SimPki, wait_until
from tests.integration.uplink.conftest import UPSTREAM_PASSWORD, UplinkSite, boot


@asynccontextmanager
async def bad_csms(pki: SimPki, kind: str) -> AsyncIterator[SimCsms]:
    versions = (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.MAXIMUM_SUPPORTED)
    if kind == "self-signed":
        cert, key = pki.issue("bad", "localhost", self_signed=True)
    elif kind == "wrong-host":
        cert, key = pki.issue("bad", "other.example", dns=["other.example"], ips=[])
    elif kind == "expired":
        cert, key = pki.issue("bad", "localhost", expired=True)
    else:
        cert, key = pki.issue("bad", "localhost")
        versions = (ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_1)
    server = SimCsms(cert, key, passwords={}, tls_versions=versions)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.mark.parametrize(
    ("kind", "event"),
    [
        ("self-signed", "uplink.certificate_rejected"),
        ("wrong-host", "uplink.certificate_rejected"),
        ("expired", "uplink.certificate_rejected"),
        ("tls-1.1-only", "uplink.tls_rejected"),
    ],
)
async def test_untrustworthy_csms_is_refused_and_audited(
    make_site: Any, pki: SimPki, kind: str, event: str
) -> None:
    async with bad_csms(pki, kind) as csms:
        site: UplinkSite = await make_site(csms)
        key = site.enroll("SEC-1")
        async with site.station("SEC-1", key) as cp:
            # The station is still served (locally) while the CSMS is refused.
            assert (await boot(cp)).status == "Accepted"
            audit = site.controller.audit

            def audited() -> bool:
                return any(r.actor == "SEC-1" for r in audit.records(event_prefix=event))

            await wait_until(audited)
            await site.uplink.channel("SEC-1").link.stop()  # type: ignore[union-attr]
        assert not csms.received and not csms.points, "never an unvalidated connection"
        records = [r for r in audit.records(event_prefix="uplink.") if r.actor == "SEC-1"]
        assert len(records) == 1, "one record per kind of failure, not one per retry"


async def test_csms_cannot_lower_the_security_profile(site: UplinkSite) -> None:
    key = site.enroll("PR-1")
    async with site.station("PR-1", key) as cp:
        await boot(cp)
        await site.online("PR-1")
        lower = await site.csms.send("PR-1", call.ChangeConfiguration("SecurityProfile", "1"))
        assert lower.status == "Rejected"
        # Raising to 3 needs a client certificate this identity does not have.
        higher = await site.csms.send("PR-1", call.ChangeConfiguration("SecurityProfile", "3"))
        assert higher.status == "Rejected"
        other = await site.csms.send(
            "PR-1", call.ChangeConfiguration("MeterValueSampleInterval", "60")
        )
        assert other.status == "Accepted"
    assert [r for r, _ in cp.requests] == ["ChangeConfiguration"], "only the station's own key"
    refused = list(site.controller.audit.records(event_prefix="uplink.profile_downgrade_refused"))
    assert refused and refused[0].actor == "PR-1"


async def test_new_authorization_key_from_the_csms_is_used_on_reconnect(site: UplinkSite) -> None:
    key = site.enroll("AK-1")
    new_key = "a-brand-new-upstream-key-42"
    async with site.station("AK-1", key) as cp:
        await boot(cp)
        await site.online("AK-1")
        before = site.csms.connections
        assert site.csms.passwords is not None
        site.csms.passwords["AK-1"] = new_key
        answer = await site.csms.send("AK-1", call.ChangeConfiguration("AuthorizationKey", new_key))
        assert answer.status == "Accepted"
        await wait_until(lambda: site.csms.connections > before and "AK-1" in site.csms.points)
    creds = site.uplink.credentials.get("AK-1")
    assert creds is not None and creds.password == new_key and new_key not in repr(creds)
    assert UPSTREAM_PASSWORD not in repr(creds)


async def test_profile_3_connects_with_the_identity_client_certificate(
    make_site: Any, pki: SimPki
) -> None:
    cert, key_file = pki.issue("csms3", "localhost")
    csms = SimCsms(cert, key_file, client_ca=pki.ca)
    await csms.start()
    try:
        site: UplinkSite = await make_site(csms, csms={"url": csms.url(), "security_profile": 3})
        station_key = site.enroll("P3-1")
        client_cert, client_key = pki.issue("p3", "P3-1", client=True)
        site.uplink.credentials.set_certificate(
            "P3-1", client_cert.read_text(), client_key.read_text()
        )
        async with site.station("P3-1", station_key) as cp:
            await boot(cp)
            await site.online("P3-1")
            await cp.call(call.Heartbeat())
        assert csms.calls("P3-1", "Heartbeat")
    finally:
        await csms.stop()


async def test_own_security_events_reach_the_csms_through_the_controller_identity(
    make_site: Any, csms: SimCsms
) -> None:
    assert csms.passwords is not None
    csms.passwords["evsite-ctl"] = UPSTREAM_PASSWORD
    site: UplinkSite = await make_site(controller_id="evsite-ctl")
    site.uplink.credentials.set_password("evsite-ctl", UPSTREAM_PASSWORD)
    await wait_until(lambda: bool(csms.calls("evsite-ctl", "SecurityEventNotification")))
    await wait_until(lambda: site.uplink.outbox.pending_count("evsite-ctl") == 0)
    first = csms.calls("evsite-ctl")
    assert first[0].action == "BootNotification"
    assert first[1].payload["type"] == "StartupOfTheDevice"
    await csms.stop()
    site.controller.audit.record("login.failed", actor="admin", source="10.0.0.9")
    await csms.start()
    await wait_until(
        lambda: any(
            '"login.failed"' in r.payload.get("techInfo", "")
            for r in csms.calls("evsite-ctl", "SecurityEventNotification")
        )
    )
    assert not [r for r in csms.received if r.duplicate]
