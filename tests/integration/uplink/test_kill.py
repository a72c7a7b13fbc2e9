"""kill -9 of evsite while messages are queued, and again while they are replayed."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
from collections.abc import Iterator
from pathlib import Path

from ocpp.v16 import call
from websockets.asyncio.client import connect

from evsite.clock import SystemClock
from evsite.ocpp.keys import generate_key
from evsite.sim.csms import SimCsms, SimPki, wait_until
from evsite.store.badges import Badge, BadgeRepository
from evsite.store.db import open_database
from evsite.store.stations import StationRepository
from evsite.uplink.channel import MAX_UNRECORDED
from evsite.uplink.credentials import CredentialStore
from evsite.uplink.schema import UPLINK_MIGRATIONS
from tests.integration.evsite_process import EvsiteProcess
from tests.integration.ocpp.conftest import basic, client_tls, now
from tests.integration.uplink.conftest import UPSTREAM_PASSWORD, Station
from tests.integration.uplink.test_proxy import meter

STATION = "K-1"


def prepare(tmp_path: Path, pki: SimPki, csms: SimCsms) -> tuple[Path, Path, str]:
    data_dir = tmp_path / "data"
    db = open_database(data_dir, extra={"uplink": UPLINK_MIGRATIONS})
    key = generate_key()
    StationRepository(db, SystemClock()).add(STATION, key, 2)
    BadgeRepository(db).put(Badge("KILL"))
    CredentialStore(db, SystemClock()).set_password(STATION, UPSTREAM_PASSWORD)
    db.close()
    config = tmp_path / "evsite.toml"
    config.write_text(
        f"""
[uplink]
mode = "proxy"
ca_bank = "{pki.ca}"
upstream_timeout = 1.0
replay_timeout = 5.0
backoff_initial = 0.05
backoff_max = 0.3
connect_rate = 1000.0

[uplink.csms]
url = "{csms.url()}"
"""
    )
    return config, data_dir, key


async def station_session(
    evsite: EvsiteProcess,
    data_dir: Path,
    key: str,
    ids: Iterator[int],
    acknowledged: list[str],
    rng: random.Random,
) -> None:
    """Charge until evsite is killed under the station's feet."""
    kill_after = rng.randint(4, 14)
    sent = 0
    with contextlib.suppress(Exception):
        async with connect(
            f"wss://localhost:{evsite.port}/ocpp/{STATION}",
            ssl=client_tls(data_dir),
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            additional_headers=basic(STATION, key),
        ) as ws:
            cp = Station(STATION, ws)
            cp._unique_id_generator = lambda: f"{STATION}-{next(ids)}"
            reader = asyncio.create_task(cp.start())
            meter_wh = 0
            while True:
                start = call.StartTransaction(
                    connector_id=1, id_tag="KILL", meter_start=meter_wh, timestamp=now()
                )
                tx = None
                for step in range(3):
                    if step == 0:
                        request = start
                    elif step == 1:
                        request = call.MeterValues(
                            connector_id=1, transaction_id=tx, meter_value=meter(meter_wh + 5)
                        )
                    else:
                        meter_wh += 10
                        request = call.StopTransaction(
                            transaction_id=tx, meter_stop=meter_wh, timestamp=now()
                        )
                    sending = asyncio.create_task(cp.call(request))
                    if sent == kill_after:
                        # Killed while this one is on its way: it may or may not count.
                        await asyncio.sleep(rng.uniform(0, 0.005))
                        await evsite.kill()
                    answer = await asyncio.wait_for(sending, 5)
                    acknowledged.append(json.loads(cp.sent[-1])[1])
                    sent += 1
                    if step == 0:
                        tx = answer.transaction_id
            reader.cancel()


async def test_kill_9_while_queued_and_while_replaying_loses_nothing(
    tmp_path: Path, pki: SimPki
) -> None:
    cert, cert_key = pki.issue("csms", "localhost")
    csms = SimCsms(cert, cert_key, passwords={STATION: UPSTREAM_PASSWORD})
    await csms.start()
    await csms.stop()  # the CSMS is down: everything is journaled
    config, data_dir, key = prepare(tmp_path, pki, csms)
    rng = random.Random(11)
    ids = itertools.count(1)
    acknowledged: list[str] = []
    for _ in range(2):
        evsite = await EvsiteProcess.start(data_dir, config=config)
        await station_session(evsite, data_dir, key, ids, acknowledged, rng)
        await evsite.kill()
    assert len(acknowledged) >= 8

    # The CSMS comes back, slow, and evsite is killed again in the middle of the replay.
    csms.delay = 0.03
    await csms.start()
    evsite = await EvsiteProcess.start(data_dir, config=config)
    await wait_until(lambda: len(csms.calls(STATION)) >= len(acknowledged) // 2, 30)
    await evsite.kill()
    csms.delay = 0
    evsite = await EvsiteProcess.start(data_dir, config=config)
    try:
        got = csms.calls(STATION)
        await wait_until(
            lambda: {r.unique_id for r in csms.calls(STATION)} >= set(acknowledged), 30
        )
    finally:
        await evsite.kill()
        await csms.stop()

    got = csms.calls(STATION)
    order = [r.unique_id for r in got if r.unique_id in set(acknowledged)]
    assert order == acknowledged, "every acknowledged message, once, in order"
    repeats = [r for r in csms.received if r.duplicate]
    # Re-sent only in the crash window (answer received, not yet on disk), with the same
    # unique id and text, so the CSMS recognises them.
    assert len(repeats) <= MAX_UNRECORDED + 1
    first_text = {r.unique_id: r.raw for r in got}
    assert all(first_text[r.unique_id] == r.raw for r in repeats)
    for r in got:
        if r.action in ("MeterValues", "StopTransaction"):
            assert r.payload["transactionId"] in csms.transactions, "mapped to the CSMS's id"
