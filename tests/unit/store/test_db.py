"""Schema migrations per component."""

from __future__ import annotations

from pathlib import Path

import pytest

from evsite.store.db import Database, open_database


def test_components_migrate_independently_and_only_once(tmp_path: Path) -> None:
    extra = {"demo": ["CREATE TABLE demo(a INTEGER)", "ALTER TABLE demo ADD COLUMN b TEXT"]}
    db = open_database(tmp_path, extra)
    assert db.schema_version_of("demo") == 2
    assert db.schema_version_of("core") >= 1
    db.close()
    again = open_database(tmp_path, extra)
    assert again.schema_version_of("demo") == 2
    again.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    db = open_database(tmp_path, {"demo": ["CREATE TABLE demo(a INTEGER)"]})
    db.close()
    with pytest.raises(RuntimeError, match="newer than this software"):
        Database(tmp_path / "evsite.db", {"demo": []})


def test_a_failed_migration_leaves_nothing_half_done(tmp_path: Path) -> None:
    broken = {"demo": ["CREATE TABLE demo(a INTEGER); CREATE TABLE demo(a INTEGER)"]}
    with pytest.raises(Exception, match="already exists"):
        open_database(tmp_path, broken)
    db = open_database(tmp_path)
    assert db.schema_version_of("demo") == 0
    assert db.query("SELECT name FROM sqlite_master WHERE name='demo'") == []
    db.close()


def test_wal_mode_and_full_sync(tmp_path: Path) -> None:
    db = open_database(tmp_path)
    assert db.query_one("PRAGMA journal_mode")[0] == "wal"  # type: ignore[index]
    assert db.query_one("PRAGMA synchronous")[0] == 2  # type: ignore[index]
    db.close()
