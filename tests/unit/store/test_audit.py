"""The audit log's hash chain shows edits, deletions, reordering and truncation."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from evsite.clock import FakeClock
from evsite.store.audit import AuditLog
from evsite.store.db import open_database


@pytest.fixture
def audit(tmp_path: Path) -> AuditLog:
    log = AuditLog(open_database(tmp_path), FakeClock())
    for n in range(5):
        log.record(f"event.{n}", actor="tester", source="10.0.0.1", detail={"n": n})
    return log


def tamper(tmp_path: Path, sql: str) -> None:
    conn = sqlite3.connect(tmp_path / "evsite.db")
    conn.executescript(sql)
    conn.commit()
    conn.close()


def test_an_untouched_log_verifies(audit: AuditLog) -> None:
    assert audit.verify() == []
    assert [r.seq for r in audit.records()] == [1, 2, 3, 4, 5]


def test_an_edited_detail_is_detected(audit: AuditLog, tmp_path: Path) -> None:
    tamper(tmp_path, "UPDATE audit SET detail='{\"n\":99}' WHERE seq=3")
    assert audit.verify() == ["record 3: contents do not match its hash (edited)"]


def test_a_deleted_record_is_detected(audit: AuditLog, tmp_path: Path) -> None:
    tamper(tmp_path, "DELETE FROM audit WHERE seq=2")
    problems = audit.verify()
    assert "record 2 to 2 missing" in problems


def test_reordered_records_are_detected(audit: AuditLog, tmp_path: Path) -> None:
    tamper(
        tmp_path,
        "UPDATE audit SET seq=-2 WHERE seq=2; UPDATE audit SET seq=2 WHERE seq=3;"
        " UPDATE audit SET seq=3 WHERE seq=-2;",
    )
    assert any("does not follow" in p for p in audit.verify())


def test_records_cut_off_the_end_are_detected(audit: AuditLog, tmp_path: Path) -> None:
    tamper(tmp_path, "DELETE FROM audit WHERE seq>=4")
    assert audit.verify() == ["records 4 to 5 cut off the end"]


def test_a_rehashed_forgery_still_differs_from_the_head(audit: AuditLog, tmp_path: Path) -> None:
    from evsite.store.audit import chain_hash

    conn = sqlite3.connect(tmp_path / "evsite.db")
    row = conn.execute("SELECT * FROM audit WHERE seq=5").fetchone()
    forged = chain_hash(row[7], 5, row[1], "nothing.happened", row[3], row[4], row[5], row[6])
    conn.execute("UPDATE audit SET event='nothing.happened', hash=? WHERE seq=5", (forged,))
    conn.commit()
    conn.close()
    assert audit.verify() == ["record 5: differs from the recorded head"]


def test_records_carry_time_actor_source_and_outcome(audit: AuditLog) -> None:
    audit.record("login.failed", actor="admin", source="192.0.2.9", outcome="denied")
    last = next(audit.records(newest_first=True))
    assert (last.event, last.actor, last.source, last.outcome) == (
        "login.failed",
        "admin",
        "192.0.2.9",
        "denied",
    )
    assert last.time.endswith("Z")
