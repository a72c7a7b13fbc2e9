"""Nothing acknowledged is lost: kill -9 the controller at random moments."""

from __future__ import annotations

import asyncio
import contextlib
import random
from pathlib import Path

from ocpp.v16 import ChargePoint, call

from evsite.clock import SystemClock
from evsite.ocpp.keys import generate_key
from evsite.store.db import open_database
from evsite.store.stations import StationRepository
from evsite.store.transactions import TransactionRepository
from tests.integration.evsite_process import EvsiteProcess
from tests.integration.ocpp.conftest import basic, client_tls, now


async def test_acknowledged_transactions_survive_kill_9(tmp_path: Path) -> None:
    from websockets.asyncio.client import connect

    db = open_database(tmp_path)
    key = generate_key()
    StationRepository(db, SystemClock()).add("CP-1", key, 2)
    db.close()
    acknowledged: list[tuple[int, int]] = []  # (transaction id, meter start)
    rng = random.Random(42)
    meter = 0
    for _round in range(3):
        controller = await EvsiteProcess.start(tmp_path)
        port = controller.port
        kill_after = rng.randint(3, 15)
        # The connection dies with the process: errors past the kill are expected.
        with contextlib.suppress(Exception):
            async with connect(
                f"wss://localhost:{port}/ocpp/CP-1",
                ssl=client_tls(tmp_path),
                subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                additional_headers=basic("CP-1", key),
            ) as ws:
                cp = ChargePoint("CP-1", ws, response_timeout=10)
                reader = asyncio.create_task(cp.start())
                for n in range(kill_after + 1):
                    meter += 10
                    request = cp.call(
                        call.StartTransaction(
                            connector_id=1, id_tag=f"TAG{meter}", meter_start=meter, timestamp=now()
                        )
                    )
                    if n == kill_after:
                        # Kill while this request is on its way: it may or may not be stored,
                        # but everything answered before must be.
                        pending = asyncio.create_task(request)
                        await asyncio.sleep(rng.uniform(0, 0.01))
                        controller.kill_now()
                        with contextlib.suppress(Exception):
                            answer = await asyncio.wait_for(pending, 5)
                            if answer is not None:
                                acknowledged.append((answer.transaction_id, meter))
                        break
                    answer = await request
                    acknowledged.append((answer.transaction_id, meter))
                reader.cancel()
        await controller.kill()
    assert len(acknowledged) >= 3
    db = open_database(tmp_path)
    transactions = TransactionRepository(db, SystemClock())
    for transaction_id, meter_start in acknowledged:
        record = transactions.get(transaction_id)
        assert record is not None, f"acknowledged transaction {transaction_id} was lost"
        assert record.meter_start == meter_start
    ids = [t for t, _ in acknowledged]
    assert len(set(ids)) == len(ids), "a transaction id was handed out twice"
    db.close()
