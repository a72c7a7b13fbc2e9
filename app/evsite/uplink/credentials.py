"""Per-identity upstream credentials: the Basic password (profile 2) or client cert/key (3).

The CSMS must be shown these in clear, so they are stored retrievable (the data
partition is private to the service user). They are never logged: the record's
repr hides them.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from evsite.clock import Clock, iso_utc
from evsite.store.db import Database

MIN_PASSWORD = 16
MAX_PASSWORD = 40  # OCPP 1.6 security whitepaper: AuthorizationKey is 16 to 40 bytes


class CredentialError(ValueError):
    """Credentials that cannot be used (too short, missing the key, ...)."""


@dataclass(frozen=True)
class Credentials:
    """What one identity shows the CSMS."""

    identity: str
    password: str | None = field(default=None, repr=False)
    cert_pem: str | None = field(default=None, repr=False)
    key_pem: str | None = field(default=None, repr=False)
    # The highest profile this identity has reached upstream; never lowered.
    security_profile: int = 0

    def supports(self, profile: int) -> bool:
        """True if these credentials can connect with the given security profile."""
        if profile == 2:
            return self.password is not None
        if profile == 3:
            return self.cert_pem is not None and self.key_pem is not None
        return False


def check_password(password: str) -> str:
    """A Basic password as OCPP wants it: 16 to 40 printable ASCII characters, no colon."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise CredentialError(f"the password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    if not password.isascii() or not password.isprintable() or ":" in password:
        raise CredentialError("the password must be printable ASCII without ':'")
    return password


class CredentialStore:
    """The uplink_credentials table."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def get(self, identity: str) -> Credentials | None:
        """The credentials of one identity, if any."""
        row = self._db.query_one("SELECT * FROM uplink_credentials WHERE identity=?", (identity,))
        if row is None:
            return None
        return Credentials(
            row["identity"],
            row["password"],
            row["cert_pem"],
            row["key_pem"],
            int(row["security_profile"]),
        )

    def all(self) -> list[Credentials]:
        """Every identity with credentials, by name."""
        rows = self._db.query("SELECT identity FROM uplink_credentials ORDER BY identity")
        found = [self.get(r[0]) for r in rows]
        return [c for c in found if c is not None]

    def set_password(self, identity: str, password: str) -> None:
        """Store (or replace) the Basic password of an identity."""
        check_password(password)
        self._upsert(identity, "password=excluded.password", password=password)

    def set_certificate(self, identity: str, cert_pem: str, key_pem: str) -> None:
        """Store (or replace) the client certificate chain and key of an identity."""
        if "BEGIN CERTIFICATE" not in cert_pem:
            raise CredentialError("the certificate must be PEM")
        if "PRIVATE KEY" not in key_pem:
            raise CredentialError("the key must be a PEM private key")
        self._upsert(
            identity,
            "cert_pem=excluded.cert_pem, key_pem=excluded.key_pem",
            cert_pem=cert_pem,
            key_pem=key_pem,
        )

    def raise_profile(self, identity: str, profile: int) -> int:
        """Record a profile reached; a lower one never replaces a higher. Returns the stored."""
        with self._db.transaction() as conn:
            self._ensure(conn, identity)
            conn.execute(
                "UPDATE uplink_credentials SET security_profile=max(security_profile, ?)"
                " WHERE identity=?",
                (profile, identity),
            )
            row = conn.execute(
                "SELECT security_profile FROM uplink_credentials WHERE identity=?", (identity,)
            ).fetchone()
        return int(row[0])

    def remove(self, identity: str) -> bool:
        """Forget an identity's credentials; True if there were any."""
        with self._db.transaction() as conn:
            cur = conn.execute("DELETE FROM uplink_credentials WHERE identity=?", (identity,))
            return cur.rowcount > 0

    def _ensure(self, conn: sqlite3.Connection, identity: str) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO uplink_credentials(identity, updated_at) VALUES (?, ?)",
            (identity, iso_utc(self._clock.now())),
        )

    def _upsert(self, identity: str, assignments: str, **values: str) -> None:
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        with self._db.transaction() as conn:
            conn.execute(
                f"INSERT INTO uplink_credentials(identity, {columns}, updated_at)"  # noqa: S608
                f" VALUES (?, {marks}, ?) ON CONFLICT(identity) DO UPDATE SET {assignments},"
                " updated_at=excluded.updated_at",
                (identity, *values.values(), iso_utc(self._clock.now())),
            )
