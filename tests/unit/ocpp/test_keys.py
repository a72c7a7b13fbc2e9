"""Station keys."""

from __future__ import annotations

import pytest

from evsite.ocpp.keys import KeyError_, check_key, generate_key, hash_key, verify_key


def test_generated_keys_are_long_random_and_verify() -> None:
    keys = {generate_key() for _ in range(100)}
    assert len(keys) == 100
    key = keys.pop()
    assert len(key) == 40
    salt, digest = hash_key(key)
    assert verify_key(key, salt, digest)
    assert not verify_key(key[:-1] + ("0" if key[-1] != "0" else "1"), salt, digest)


def test_the_same_key_hashes_differently_per_station() -> None:
    key = generate_key()
    assert hash_key(key)[1] != hash_key(key)[1]


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("short", "16 to 40"),
        ("a" * 41, "16 to 40"),
        ("abababababababababab", "repeated"),
        ("has:colon-in-it-0123", "without ':'"),
    ],
)
def test_bad_keys_are_refused_with_a_reason(key: str, why: str) -> None:
    with pytest.raises(KeyError_, match=why):
        check_key(key)
