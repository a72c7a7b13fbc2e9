"""Password policy and argon2id hashing."""

from __future__ import annotations

import pytest

from evsite.web.passwords import TEST_HASH_PARAMS, Passwords, common_passwords, password_problem


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short-pass1", "at least 12"),
        ("password1234", "too common"),
        ("Password2024!", "too common"),
        ("qwertyuiop123", "too common"),
        ("!!iloveyou2025", "too common"),
        ("aaaaaaaaaaaaaaaa", "too few different"),
        ("aaaaaaaaaaaa", "too common"),
        ("abababababababab", "too few different"),
        ("alice-rides-bikes", "user name"),
        ("1234567890123", "sequence"),
        ("123456789012", "too common"),
        ("mnbvcxzlkjhgfdsa", "sequence"),
        ("x" * 257, "at most"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(password: str, why: str) -> None:
    assert why in password_problem(password, "alice")


def test_a_long_uncommon_password_is_accepted() -> None:
    assert password_problem("Quiet-Harbour-Lantern-7", "alice") == ""


def test_the_shipped_list_is_compact_and_lower_case() -> None:
    words = common_passwords()
    assert 1000 < len(words) < 5000
    assert all(w == w.lower() for w in words)


def test_hashes_are_argon2id_and_verify() -> None:
    pw = Passwords(TEST_HASH_PARAMS)
    digest = pw.hash("Quiet-Harbour-Lantern-7")
    assert digest.startswith("$argon2id$")
    assert pw.verify(digest, "Quiet-Harbour-Lantern-7")
    assert not pw.verify(digest, "Quiet-Harbour-Lantern-8")
    assert not pw.verify("not a hash", "x")


def test_unknown_user_still_costs_a_verification_and_fails() -> None:
    pw = Passwords(TEST_HASH_PARAMS)
    assert not pw.verify(None, "not a password of anybody")
