"""Station keys for HTTP Basic auth (security profiles 1 and 2): generation and hashing.

Keys are at least 16 random bytes, so a salted SHA-256 (compared in constant
time) is enough: there is nothing to brute-force, and a slow password hash would
cost seconds of CPU when a thousand stations reconnect after an outage.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_BYTES = 20
MIN_KEY_LENGTH = 16
MAX_KEY_LENGTH = 40  # OCPP 1.6 security whitepaper: AuthorizationKey is at most 40 characters


class KeyError_(ValueError):
    """A station key that does not meet the rules."""


def generate_key() -> str:
    """A new station key: 20 random bytes as 40 hex characters."""
    return secrets.token_hex(KEY_BYTES)


def check_key(key: str) -> str:
    """Return the key if acceptable; raise KeyError_ naming what is wrong."""
    if not MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH:
        raise KeyError_(
            f"a station key must be {MIN_KEY_LENGTH} to {MAX_KEY_LENGTH} characters, "
            f"this one has {len(key)}"
        )
    if not key.isascii() or not key.isprintable() or ":" in key:
        raise KeyError_("a station key must be printable ASCII without ':'")
    if len(set(key)) < 6:
        raise KeyError_("a station key must not be a repeated pattern")
    return key


def hash_key(key: str, salt: bytes | None = None) -> tuple[bytes, bytes]:
    """Return (salt, digest) for storage."""
    salt = salt or secrets.token_bytes(16)
    return salt, hashlib.sha256(salt + key.encode()).digest()


def verify_key(key: str, salt: bytes, digest: bytes) -> bool:
    """Constant-time check of a presented key against the stored digest."""
    return hmac.compare_digest(hashlib.sha256(salt + key.encode()).digest(), digest)
