"""API bearer tokens for an EMS: created by an admin, stored hashed, scoped, revocable."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Literal

from evsite.clock import Clock
from evsite.store.db import Database
from evsite.web.sessions import token_hash

Scope = Literal["read", "read-write"]
TOKEN_PREFIX = "evs_"  # noqa: S105 - marks our tokens, not a secret


@dataclass(frozen=True)
class ApiToken:
    """A token's record (never the token itself)."""

    token_id: int
    name: str
    scope: Scope
    created_by: str
    created_at: float
    last_used: float | None
    revoked: bool


class ApiTokens:
    """The web_api_tokens table."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def create(self, name: str, scope: Scope, created_by: str) -> tuple[str, ApiToken]:
        """Make a token; return it (shown once) and its record."""
        name = name.strip()
        if not 1 <= len(name) <= 64:
            raise ValueError("token name must be 1 to 64 characters")
        if scope not in ("read", "read-write"):
            raise ValueError("scope must be read or read-write")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._db.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO web_api_tokens(name, token_hash, scope, created_by, created_at)"
                " VALUES (?,?,?,?,?)",
                (name, token_hash(token), scope, created_by, self._clock.now().timestamp()),
            )
            token_id = int(cur.lastrowid or 0)
        return token, self._get(token_id)

    def _get(self, token_id: int) -> ApiToken:
        row = self._db.query_one("SELECT * FROM web_api_tokens WHERE id=?", (token_id,))
        if row is None:
            raise ValueError(f"no API token with id {token_id}")
        return ApiToken(
            row["id"],
            row["name"],
            row["scope"],
            row["created_by"],
            row["created_at"],
            row["last_used"],
            bool(row["revoked"]),
        )

    def list(self) -> list[ApiToken]:
        """All tokens, newest first."""
        ids = [r[0] for r in self._db.query("SELECT id FROM web_api_tokens ORDER BY id DESC")]
        return [self._get(i) for i in ids]

    def check(self, token: str) -> ApiToken | None:
        """The token's record if it is valid and not revoked (and note its use); else None."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
            return None
        row = self._db.query_one(
            "SELECT id FROM web_api_tokens WHERE token_hash=? AND revoked=0", (token_hash(token),)
        )
        if row is None:
            return None
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE web_api_tokens SET last_used=? WHERE id=?",
                (self._clock.now().timestamp(), row[0]),
            )
        return self._get(row[0])

    def revoke(self, token_id: int) -> ApiToken:
        """Revoke a token at once."""
        self._get(token_id)
        with self._db.transaction() as conn:
            conn.execute("UPDATE web_api_tokens SET revoked=1 WHERE id=?", (token_id,))
        return self._get(token_id)
