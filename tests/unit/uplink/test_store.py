"""Outbox, transaction id map, credentials: the uplink's durable state."""

from __future__ import annotations

import json

import pytest

from evsite.clock import FakeClock
from evsite.store.commit import DirectWriter
from evsite.store.db import Database
from evsite.uplink.credentials import CredentialError, CredentialStore
from evsite.uplink.outbox import Outbox
from evsite.uplink.txmap import TxMap, rewrite_call, transaction_id_of


async def test_outbox_keeps_order_and_survives_reopening(db: Database, clock: FakeClock) -> None:
    outbox = Outbox(db, DirectWriter(db), clock)
    for n in range(5):
        await outbox.add("CP-1", f"u{n}", "MeterValues", f'[2,"u{n}","MeterValues",{{}}]', n)
    await outbox.add("CP-2", "x", "StatusNotification", "[]")
    again = Outbox(db, DirectWriter(db), clock)  # counts rebuilt from the table
    assert again.pending_count("CP-1") == 5 and again.pending_count() == 6
    assert again.identities() == ["CP-1", "CP-2"]
    batch = again.next_batch("CP-1", limit=3)
    assert [e.unique_id for e in batch] == ["u0", "u1", "u2"]
    assert [e.unique_id for e in again.next_batch("CP-1", batch[-1].seq)] == ["u3", "u4"]
    with db.transaction() as conn:
        assert again.delete_sql(conn, batch[0].seq)
    again.removed("CP-1")
    assert again.pending_count("CP-1") == 4
    assert again.next_batch("CP-1")[0].unique_id == "u1"


async def test_offline_ids_never_clash_with_an_id_the_station_already_holds(
    db: Database, clock: FakeClock
) -> None:
    txmap = TxMap(db, clock)
    with db.transaction() as conn:
        txmap.link_sql(conn, "CP-1", 12, 3, 12)  # the CSMS once gave this station id 12
    assert txmap.offline_station_tx("CP-1", 7) == 7
    assert txmap.offline_station_tx("CP-1", 12) == -12
    assert txmap.offline_station_tx("CP-2", 12) == 12  # ids are per station


async def test_csms_id_arrives_later_for_a_transaction_started_offline(
    db: Database, clock: FakeClock
) -> None:
    txmap = TxMap(db, clock)
    with db.transaction() as conn:
        txmap.link_sql(conn, "CP-1", 7, 7, None)
    link = txmap.by_station_tx("CP-1", 7)
    assert link is not None and link.csms_tx is None
    with db.transaction() as conn:
        txmap.set_csms_sql(conn, "CP-1", 7, 90210)
    assert txmap.by_csms_tx("CP-1", 90210) == txmap.by_station_tx("CP-1", 7)
    assert txmap.by_local_tx("CP-1", 7).csms_tx == 90210  # type: ignore[union-attr]


def test_rewrite_changes_only_the_transaction_id() -> None:
    frame = '[2,"id-1","StopTransaction",{"transactionId":7,"meterStop":10,"idTag":"Ü"}]'
    rewritten = rewrite_call(frame, 90210)
    assert json.loads(rewritten) == [
        2,
        "id-1",
        "StopTransaction",
        {"transactionId": 90210, "meterStop": 10, "idTag": "Ü"},
    ]
    nested = (
        '[2,"p","SetChargingProfile",{"connectorId":1,"csChargingProfiles":{"transactionId":5}}]'
    )
    assert json.loads(rewrite_call(nested, 9, "csChargingProfiles"))[3]["csChargingProfiles"] == {
        "transactionId": 9
    }
    assert transaction_id_of({"transactionId": True}) is None


def test_credentials_are_never_shown_and_the_profile_never_drops(
    db: Database, clock: FakeClock
) -> None:
    store = CredentialStore(db, clock)
    store.set_password("CP-1", "s3cret-s3cret-s3cret")
    creds = store.get("CP-1")
    assert creds is not None and creds.supports(2) and not creds.supports(3)
    assert "s3cret" not in repr(creds)
    assert store.raise_profile("CP-1", 3) == 3
    assert store.raise_profile("CP-1", 2) == 3
    with pytest.raises(CredentialError):
        store.set_password("CP-1", "short")
    with pytest.raises(CredentialError):
        store.set_password("CP-1", "has:a:colon-in-it-ok")
    with pytest.raises(CredentialError):
        store.set_certificate("CP-1", "not pem", "not pem")
    assert store.get("CP-1").password == "s3cret-s3cret-s3cret"  # type: ignore[union-attr]
