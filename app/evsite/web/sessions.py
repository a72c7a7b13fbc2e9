"""Login sessions: random tokens stored hashed, idle and absolute timeouts, CSRF tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from evsite.clock import Clock
from evsite.store.db import Database

COOKIE_NAME = "__Host-evsite"


def token_hash(token: str) -> str:
    """SHA-256 of a high-entropy token; enough, since tokens are not guessable."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class LoginSession:
    """A live session, as the request handlers see it."""

    token_hash: str
    user_id: int
    csrf_token: str
    created_at: float


class SessionStore:
    """The web_sessions table; times come from the injected clock."""

    def __init__(self, db: Database, clock: Clock, idle_s: int, absolute_s: int) -> None:
        self._db = db
        self._clock = clock
        self._idle_s = idle_s
        self._absolute_s = absolute_s

    def create(self, user_id: int, source: str) -> tuple[str, LoginSession]:
        """Start a session; return the cookie value (only the hash is stored) and the session."""
        token = secrets.token_urlsafe(32)  # 256 bits
        csrf = secrets.token_urlsafe(32)
        now = self._clock.now().timestamp()
        digest = token_hash(token)
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO web_sessions(token_hash, user_id, csrf_token, created_at, last_seen,"
                " source) VALUES (?,?,?,?,?,?)",
                (digest, user_id, csrf, now, now, source),
            )
        return token, LoginSession(digest, user_id, csrf, now)

    def lookup(self, token: str) -> LoginSession | None:
        """The session for a cookie value if still valid (and mark it used); else None."""
        if not token or len(token) > 128:
            return None
        digest = token_hash(token)
        row = self._db.query_one("SELECT * FROM web_sessions WHERE token_hash=?", (digest,))
        if row is None:
            return None
        now = self._clock.now().timestamp()
        expired = (
            now - row["last_seen"] > self._idle_s or now - row["created_at"] > self._absolute_s
        )
        with self._db.transaction() as conn:
            if expired:
                conn.execute("DELETE FROM web_sessions WHERE token_hash=?", (digest,))
                return None
            conn.execute("UPDATE web_sessions SET last_seen=? WHERE token_hash=?", (now, digest))
        return LoginSession(digest, row["user_id"], row["csrf_token"], row["created_at"])

    def end(self, digest: str) -> None:
        """End one session (logout)."""
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM web_sessions WHERE token_hash=?", (digest,))

    def end_all_for(self, user_id: int, keep: str = "") -> int:
        """End every session of a user except `keep` (a token hash); return how many."""
        with self._db.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM web_sessions WHERE user_id=? AND token_hash<>?", (user_id, keep)
            )
            return cur.rowcount

    def purge_expired(self) -> int:
        """Delete sessions past either timeout; return how many."""
        now = self._clock.now().timestamp()
        with self._db.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM web_sessions WHERE last_seen < ? OR created_at < ?",
                (now - self._idle_s, now - self._absolute_s),
            )
            return cur.rowcount
