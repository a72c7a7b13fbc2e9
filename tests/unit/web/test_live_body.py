"""The live JSON bodies are encoded once per snapshot, and again for any other one."""

from __future__ import annotations

from datetime import UTC, datetime

from evsite.web.facade import SiteSnapshot
from evsite.web.live_body import EncodedOnce


def snapshot() -> SiteSnapshot:
    return SiteSnapshot(datetime(2026, 1, 1, tzinfo=UTC), 0.0, (0.0,) * 3, (0.0,) * 3, ())


def test_the_same_snapshot_is_encoded_once_and_a_new_one_or_a_new_limit_again() -> None:
    encoded = EncodedOnce()
    encodings: list[str] = []

    def encode(text: str) -> str:
        encodings.append(text)
        return text

    snap = snapshot()
    assert encoded.body(snap, 16.0, lambda: encode("a")) == "a"
    assert encoded.body(snap, 16.0, lambda: encode("b")) == "a"
    assert encoded.body(snap, 10.0, lambda: encode("c")) == "c"
    # Equal but not the same object: a snapshot taken anew is encoded anew.
    assert encoded.body(snapshot(), 10.0, lambda: encode("d")) == "d"
    assert encodings == ["a", "c", "d"]
