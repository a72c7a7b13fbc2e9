"""Password policy and argon2id hashing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 256  # argon2 copes with more, but nobody types it and it bounds the work
_EDGES = re.compile(r"^[\W\d_]+|[\W\d_]+$")
_SEQUENCES = (
    "0123456789012345678901234567890",
    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
    "qwertyuiopasdfghjklzxcvbnm",
)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (lower case)."""
    text = resources.files("evsite.web").joinpath("common-passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def password_problem(password: str, username: str = "") -> str:
    """Return why a new password is refused, or "" when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters long"
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters long"
    lowered = password.lower()
    core = _EDGES.sub("", lowered)
    if lowered in common_passwords() or (core and core in common_passwords()):
        return "is too common; choose something less guessable"
    if username and username.lower() in lowered:
        return "must not contain the user name"
    if len(set(password)) < 4:
        return "uses too few different characters"
    if any(lowered in seq or lowered in seq[::-1] for seq in _SEQUENCES):
        return "is a keyboard or number sequence"
    return ""


@dataclass(frozen=True)
class HashParams:
    """argon2id cost; the defaults are RFC 9106's low-memory profile (64 MiB, t=3, p=4)."""

    time_cost: int = 3
    memory_kib: int = 64 * 1024
    parallelism: int = 4


# Cheap parameters for tests only: same algorithm, a fraction of the work.
TEST_HASH_PARAMS = HashParams(time_cost=1, memory_kib=1024, parallelism=1)


class Passwords:
    """Hash and verify passwords with argon2id; unknown users cost the same as known ones."""

    def __init__(self, params: HashParams = HashParams()) -> None:
        self._hasher = PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
        )
        # Verifying against this when the user does not exist keeps timing alike.
        self._dummy = self._hasher.hash("not a password of anybody")

    def hash(self, password: str) -> str:
        """Return an argon2id hash string."""
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Check a password; with stored_hash None, burn the same time and return False."""
        try:
            self._hasher.verify(stored_hash or self._dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return stored_hash is not None

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when the hash was made with other parameters than the current ones."""
        return self._hasher.check_needs_rehash(stored_hash)
