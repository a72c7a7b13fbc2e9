"""Connecting: enrollment, the security profiles, the identity guard."""

from __future__ import annotations

import asyncio
import ssl

import pytest
from ocpp.v16 import call
from websockets.exceptions import InvalidStatus

from tests.integration.ocpp.conftest import Site, boot


def audit_events(site: Site) -> list[str]:
    return [r.event for r in site.controller.audit.records()]


async def test_enrolled_station_with_key_boots_and_is_accepted(site: Site) -> None:
    key = site.enroll("CP-1")
    async with site.station("CP-1", key) as cp:
        answer = await boot(cp)
        assert answer.status == "Accepted"
        assert answer.interval == 300
    record = site.controller.stations.get("CP-1")
    assert record is not None
    assert record.model == "T1"
    assert [a.address for a in site.controller.stations.addresses("CP-1")] == ["127.0.0.1"]


async def test_negotiates_the_ocpp16_subprotocol(site: Site) -> None:
    key = site.enroll("CP-1")
    async with site.raw("CP-1", key, subprotocols=["ocpp2.0.1", "ocpp1.6"]) as ws:
        assert ws.subprotocol == "ocpp1.6"


async def status_of_refusal(site: Site, station_id: str, key: str | None, **kw: object) -> int:
    with pytest.raises(InvalidStatus) as refused:
        async with site.raw(station_id, key, **kw):
            pass
    return refused.value.response.status_code


async def test_unknown_station_is_refused_and_recorded_as_pending(site: Site) -> None:
    assert await status_of_refusal(site, "STRANGER", "0123456789abcdef0123") == 404
    assert await status_of_refusal(site, "STRANGER", None) == 404
    pending = site.controller.stations.pending()
    assert [(p.station_id, p.address, p.attempts) for p in pending] == [
        ("STRANGER", "127.0.0.1", 2)
    ]
    assert audit_events(site).count("station.enrollment_requested") == 1


async def test_wrong_key_missing_key_and_foreign_username_are_refused(site: Site) -> None:
    key = site.enroll("CP-1")
    other_key = site.enroll("CP-2")
    assert await status_of_refusal(site, "CP-1", "f" * 40) == 401
    assert await status_of_refusal(site, "CP-1", None) == 401
    # CP-2's valid credentials do not open CP-1's path.
    from tests.integration.ocpp.conftest import basic

    with pytest.raises(InvalidStatus) as refused:
        async with site.raw("CP-1", None, additional_headers=basic("CP-2", other_key)):
            pass
    assert refused.value.response.status_code == 401
    failures = [r for r in site.controller.audit.records() if r.event == "station.auth_failed"]
    assert [f.detail["reason"] for f in failures] == [
        "wrong key",
        "no Basic credentials",
        "username differs from the station id in the path",
    ]
    assert all(f.source == "127.0.0.1" for f in failures)
    assert key != other_key


async def test_wrong_subprotocol_is_refused(site: Site) -> None:
    key = site.enroll("CP-1")
    assert await status_of_refusal(site, "CP-1", key, subprotocols=["ocpp2.0.1"]) == 400


async def test_other_paths_are_not_found(site: Site) -> None:
    key = site.enroll("CP-1")
    from websockets.asyncio.client import connect

    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            f"wss://localhost:{site.port}/admin/CP-1", ssl=site.tls, subprotocols=["ocpp1.6"]
        ):  # type: ignore[list-item]
            pass
    assert refused.value.response.status_code == 404
    assert key


async def test_second_connection_with_a_connected_identity_is_refused(site: Site) -> None:
    key = site.enroll("CP-1")
    async with site.station("CP-1", key) as first:
        await boot(first)
        assert await status_of_refusal(site, "CP-1", key) == 409
        # The first session is untouched and still answered.
        beat = await first.call(call.Heartbeat())
        assert beat.current_time
    clashes = [r for r in site.controller.audit.records() if r.event == "station.identity_clash"]
    assert len(clashes) == 1
    assert clashes[0].actor == "CP-1"


async def test_identity_is_free_again_after_disconnect(site: Site) -> None:
    key = site.enroll("CP-1")
    async with site.station("CP-1", key) as cp:
        await boot(cp)
    for _ in range(50):
        if site.controller.server.session("CP-1") is None:
            break
        await asyncio.sleep(0.05)
    async with site.station("CP-1", key) as cp:
        assert (await boot(cp)).status == "Accepted"
    assert site.controller.stations.addresses("CP-1")[0].connections == 2


async def test_removing_a_station_closes_its_connection(site: Site) -> None:
    key = site.enroll("CP-1")
    async with site.raw("CP-1", key) as ws:
        site.controller.stations.remove("CP-1")
        await site.controller.reconcile()
        await asyncio.wait_for(ws.wait_closed(), 5)
        assert ws.close_code == 1008


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_tls_below_1_2_is_refused(site: Site) -> None:
    key = site.enroll("CP-1")
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    old.minimum_version = ssl.TLSVersion.TLSv1
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        old.set_ciphers("ALL:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    from websockets.asyncio.client import connect

    with pytest.raises((ssl.SSLError, OSError)):
        async with connect(
            f"wss://localhost:{site.port}/ocpp/CP-1", ssl=old, subprotocols=["ocpp1.6"]
        ):  # type: ignore[list-item]
            pass
    assert key


async def test_removal_by_another_process_closes_the_connection_within_a_second(
    site: Site,
) -> None:
    """`evsite station remove` runs as its own process; the controller notices the store."""
    import subprocess
    import sys
    import time

    key = site.enroll("CP-1")
    async with site.raw("CP-1", key) as ws:
        result = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "evsite",
                "station",
                "remove",
                "CP-1",
                "--data-dir",
                str(site.controller.data_dir),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        removed_at = time.monotonic()
        await asyncio.wait_for(ws.wait_closed(), 5)
        assert ws.close_code == 1008
        assert time.monotonic() - removed_at < 2
