"""SQLite in WAL mode with versioned migrations, one numbered list per component.

Each package that owns tables (core store, web, uplink, ...) hands the
composition root its own list of migration scripts; the version each
component is at is kept in the `schema_versions` table, and the core's also in
PRAGMA user_version so that plain sqlite3 tooling can see it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from evsite.store.schema import CORE_MIGRATIONS

DB_FILENAME = "evsite.db"


class Database:
    """One SQLite file: a writer connection and a separate reader connection.

    synchronous=FULL: a commit is on disk before the station gets its answer, so
    an acknowledged transaction survives kill -9 and a power cut alike. Reads use
    their own connection (WAL lets them run beside a commit), so a reader never
    waits for another thread's fsync.
    """

    def __init__(self, path: Path, extra: Mapping[str, Sequence[str]] | None = None) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._conn = self._connect()
        self._read_lock = threading.Lock()
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_versions"
            " (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
        )
        self._migrate("core", CORE_MIGRATIONS)
        for component, scripts in (extra or {}).items():
            self._migrate(component, scripts)
        self._reader = self._connect()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=5000")
        return conn

    def _migrate(self, component: str, scripts: Sequence[str]) -> None:
        row = self._conn.execute(
            "SELECT version FROM schema_versions WHERE component=?", (component,)
        ).fetchone()
        version = int(row[0]) if row else 0
        if version > len(scripts):
            raise RuntimeError(
                f"{self.path}: {component} schema version {version} is newer than this "
                f"software knows ({len(scripts)}); refusing to touch it"
            )
        for number, script in enumerate(scripts[version:], start=version + 1):
            with self.transaction() as conn:
                for statement in script.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_versions(component, version) VALUES (?, ?)"
                    " ON CONFLICT(component) DO UPDATE SET version=excluded.version",
                    (component, number),
                )
                if component == "core":
                    conn.execute(f"PRAGMA user_version={number}")

    def schema_version_of(self, component: str) -> int:
        """The schema version a component's tables are at (0 when absent)."""
        row = self.query_one("SELECT version FROM schema_versions WHERE component=?", (component,))
        return int(row[0]) if row else 0

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run statements atomically; commit on success, roll back on any error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        """Read rows."""
        with self._read_lock:
            return self._reader.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Row | None:
        """Read one row or None."""
        with self._read_lock:
            row: sqlite3.Row | None = self._reader.execute(sql, params).fetchone()
            return row

    def write_batch(
        self, work: Sequence[Callable[[sqlite3.Connection], object]]
    ) -> list[object | BaseException]:
        """Run several independent writes in one transaction: one fsync for all of them.

        Each runs in its own savepoint, so one failing write is rolled back alone
        and its exception returned in its place.
        """
        results: list[object | BaseException] = []
        with self.transaction() as conn:
            for n, fn in enumerate(work):
                conn.execute(f"SAVEPOINT w{n}")
                try:
                    results.append(fn(conn))
                    conn.execute(f"RELEASE w{n}")
                except Exception as exc:
                    conn.execute(f"ROLLBACK TO w{n}")
                    conn.execute(f"RELEASE w{n}")
                    results.append(exc)
        return results

    def close(self) -> None:
        """Close both connections (checkpointing the WAL)."""
        with self._read_lock:
            self._reader.close()
        with self._lock:
            self._conn.close()


def open_database(data_dir: Path, extra: Mapping[str, Sequence[str]] | None = None) -> Database:
    """Open (and create or migrate) the database in a data directory."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return Database(data_dir / DB_FILENAME, extra)
