"""Candidates reach the pending list once each, bounded, and never twice for an enrolled id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evsite.discovery.candidates import Candidate
from evsite.discovery.recorder import QUEUE_SIZE, CandidateRecorder


class MemoryStore:
    """The two store calls discovery makes, kept in memory."""

    def __init__(self, enrolled: set[str] | None = None, fail_first: int = 0) -> None:
        self.enrolled = enrolled or set()
        self.pending: dict[str, tuple[str, str]] = {}
        self.calls = 0
        self.fail_first = fail_first

    def note_pending(self, station_id: str, address: str, source: str) -> bool:
        self.calls += 1
        if self.fail_first:
            self.fail_first -= 1
            raise OSError("disk full")
        new = station_id not in self.pending
        self.pending[station_id] = (address, source)
        return new

    def exists(self, station_id: str) -> bool:
        return station_id in self.enrolled


class Audit:
    """Keeps what was recorded."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, dict[str, Any]]] = []

    def record(
        self,
        event: str,
        *,
        actor: str = "system",
        source: str = "",
        outcome: str = "ok",
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        self.events.append((event, actor, source, dict(detail or {})))


def recorder(store: MemoryStore, audit: Audit, max_known: int = 16) -> CandidateRecorder:
    return CandidateRecorder(
        note_pending=store.note_pending,
        is_enrolled=store.exists,
        audit=audit,
        max_known=max_known,
    )


def seen(station_id: str, address: str = "10.0.0.1") -> Candidate:
    return Candidate(station_id, address, "mdns", {"service": f"{station_id}._ocpp._tcp.local."})


async def test_new_candidate_is_noted_and_audited_once() -> None:
    store, audit = MemoryStore(), Audit()
    rec = recorder(store, audit)
    rec.start()
    for _ in range(5):
        rec.offer(seen("CP-1"))
    await rec.drained()
    await rec.stop()
    assert store.pending == {"CP-1": ("10.0.0.1", "mdns")}
    assert store.calls == 1
    assert audit.events == [
        (
            "station.discovered",
            "CP-1",
            "10.0.0.1",
            {"via": "mdns", "service": "CP-1._ocpp._tcp.local."},
        )
    ]
    assert rec.counters["repeated"] == 4


async def test_already_pending_station_is_not_audited_again() -> None:
    store, audit = MemoryStore(), Audit()
    store.pending["CP-1"] = ("10.0.0.1", "connection")
    rec = recorder(store, audit)
    rec.start()
    rec.offer(seen("CP-1", "10.0.0.2"))
    await rec.drained()
    await rec.stop()
    assert audit.events == []
    assert rec.counters["pending_seen"] == 1


async def test_enrolled_station_is_not_offered_for_enrollment() -> None:
    store, audit = MemoryStore(enrolled={"CP-1"}), Audit()
    rec = recorder(store, audit)
    rec.start()
    rec.offer(seen("CP-1"))
    await rec.drained()
    await rec.stop()
    assert store.calls == 0
    assert store.pending == {}
    assert rec.counters["enrolled"] == 1


async def test_memory_of_candidates_is_capped() -> None:
    store, audit = MemoryStore(), Audit()
    rec = recorder(store, audit, max_known=16)
    rec.start()
    for n in range(40):
        rec.offer(seen(f"CP-{n}"))
        await rec.drained()
    await rec.stop()
    assert rec.known == 16
    assert len(store.pending) == 40


async def test_flood_beyond_the_queue_is_dropped_not_buffered() -> None:
    store, audit = MemoryStore(), Audit()
    rec = recorder(store, audit, max_known=10_000)
    for n in range(QUEUE_SIZE + 10):  # worker not started: nothing drains the queue
        rec.offer(seen(f"CP-{n}"))
    assert rec.counters["offered"] == QUEUE_SIZE
    assert rec.counters["dropped"] == 10
    rec.start()
    await rec.drained()
    await rec.stop()
    assert len(store.pending) == QUEUE_SIZE


async def test_store_failure_is_counted_and_the_next_sighting_retries() -> None:
    store, audit = MemoryStore(fail_first=1), Audit()
    rec = recorder(store, audit)
    rec.start()
    rec.offer(seen("CP-1"))
    await rec.drained()
    assert rec.counters["errors"] == 1
    assert store.pending == {}
    rec.offer(seen("CP-1"))
    await rec.drained()
    await rec.stop()
    assert store.pending == {"CP-1": ("10.0.0.1", "mdns")}
    assert len(audit.events) == 1


async def test_stop_without_start_and_twice_is_harmless() -> None:
    rec = recorder(MemoryStore(), Audit())
    await rec.stop()
    rec.start()
    await rec.stop()
    await rec.stop()
    assert rec.known == 0
