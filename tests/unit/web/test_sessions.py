"""Login sessions: hashed tokens, idle and absolute timeouts on the injected clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from evsite.clock import FakeClock
from evsite.store.db import Database, open_database
from evsite.web.schema import WEB_MIGRATIONS
from evsite.web.sessions import SessionStore


@pytest.fixture
def db(tmp_path: Path) -> Database:
    d = open_database(tmp_path, extra={"web": WEB_MIGRATIONS})
    with d.transaction() as conn:
        conn.execute(
            "INSERT INTO web_users(id, username, role, password_hash, created_at,"
            " password_changed_at) VALUES (1, 'u', 'viewer', 'x', 0, 0)"
        )
    return d


def test_tokens_are_stored_only_as_hashes(db: Database) -> None:
    store = SessionStore(db, FakeClock(), 600, 3600)
    token, _ = store.create(1, "192.0.2.1")
    stored = [r["token_hash"] for r in db.query("SELECT token_hash FROM web_sessions")]
    assert token not in stored and len(stored) == 1
    assert len(token) >= 32  # 256 random bits, url-safe


def test_idle_session_expires_and_use_keeps_it_alive(db: Database) -> None:
    clock = FakeClock()
    store = SessionStore(db, clock, 600, 3600)
    token, _ = store.create(1, "")
    clock.advance(590)
    assert store.lookup(token) is not None
    clock.advance(590)
    assert store.lookup(token) is not None  # the lookup above counted as use
    clock.advance(601)
    assert store.lookup(token) is None
    assert db.query("SELECT * FROM web_sessions") == []


def test_absolute_timeout_ends_even_a_busy_session(db: Database) -> None:
    clock = FakeClock()
    store = SessionStore(db, clock, 600, 3600)
    token, _ = store.create(1, "")
    for _ in range(7):
        clock.advance(500)
        assert store.lookup(token) is not None
    clock.advance(200)
    assert store.lookup(token) is None


def test_ending_all_sessions_of_a_user_keeps_one_if_asked(db: Database) -> None:
    store = SessionStore(db, FakeClock(), 600, 3600)
    a, sa = store.create(1, "")
    b, _ = store.create(1, "")
    assert store.end_all_for(1, keep=sa.token_hash) == 1
    assert store.lookup(a) is not None and store.lookup(b) is None


def test_garbage_cookie_values_find_nothing(db: Database) -> None:
    store = SessionStore(db, FakeClock(), 600, 3600)
    assert store.lookup("") is None
    assert store.lookup("x" * 5000) is None
