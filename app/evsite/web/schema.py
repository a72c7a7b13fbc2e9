"""The web layer's own tables: users, login sessions, API tokens, setup state."""

from __future__ import annotations

WEB_MIGRATIONS: list[str] = [
    """
    CREATE TABLE web_users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE COLLATE NOCASE,
        role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
        password_hash TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        password_changed_at REAL NOT NULL
    );
    CREATE TABLE web_sessions (
        token_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES web_users(id) ON DELETE CASCADE,
        csrf_token TEXT NOT NULL,
        created_at REAL NOT NULL,
        last_seen REAL NOT NULL,
        source TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX web_sessions_user ON web_sessions(user_id);
    CREATE TABLE web_api_tokens (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        scope TEXT NOT NULL CHECK (scope IN ('read', 'read-write')),
        created_by TEXT NOT NULL,
        created_at REAL NOT NULL,
        last_used REAL,
        revoked INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE web_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
    """,
]
