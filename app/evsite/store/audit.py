"""The audit log: security events, hash-chained so that edits, deletions and reordering show.

Each record's hash covers the previous record's hash and the record's own
canonical JSON. The newest (seq, hash) is also written to a head file beside
the database, so cutting records off the end is detected too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evsite.audit_sink import AuditSink
from evsite.clock import Clock, iso_utc
from evsite.store.db import Database

GENESIS = "0" * 64
log = logging.getLogger("evsite.audit")

__all__ = ["AuditLog", "AuditRecord", "AuditSink", "chain_hash"]


@dataclass(frozen=True)
class AuditRecord:
    """One audit entry as stored."""

    seq: int
    time: str
    event: str
    actor: str
    source: str
    outcome: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str

    def as_json(self) -> str:
        """One JSON line for export."""
        return json.dumps(self.__dict__, sort_keys=True, separators=(",", ":"))


def chain_hash(
    prev_hash: str,
    seq: int,
    time: str,
    event: str,
    actor: str,
    source: str,
    outcome: str,
    detail_json: str,
) -> str:
    """The hash of one record, chained to its predecessor."""
    body = json.dumps(
        [prev_hash, seq, time, event, actor, source, outcome, detail_json],
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


class AuditLog:
    """Append-only, hash-chained audit log in the store."""

    def __init__(self, db: Database, clock: Clock, head_file: Path | None = None) -> None:
        self._db = db
        self._clock = clock
        self._head_file = head_file or db.path.with_name("audit.head")
        self._listeners: list[Any] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Any) -> None:
        """Call listener(record) after each new record (e.g. to forward it to the CSMS)."""
        self._listeners.append(listener)

    def record(
        self,
        event: str,
        *,
        actor: str = "system",
        source: str = "",
        outcome: str = "ok",
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Append one event; durable when this returns."""
        detail_json = json.dumps(dict(detail or {}), sort_keys=True, separators=(",", ":"))
        time = iso_utc(self._clock.now())
        # One writer at a time from record to head file: threads (an install, the loop)
        # record together, and the head must never fall behind the chain.
        with self._lock:
            with self._db.transaction() as conn:
                row = conn.execute(
                    "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"
                ).fetchone()
                seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS)
                digest = chain_hash(prev, seq, time, event, actor, source, outcome, detail_json)
                conn.execute(
                    "INSERT INTO audit(seq, time, event, actor, source, outcome, detail, prev_hash,"
                    " hash) VALUES (?,?,?,?,?,?,?,?,?)",
                    (seq, time, event, actor, source, outcome, detail_json, prev, digest),
                )
            self._write_head(seq, digest)
        log.info(
            "audit %s actor=%s source=%s outcome=%s %s", event, actor, source, outcome, detail_json
        )
        record = AuditRecord(
            seq, time, event, actor, source, outcome, json.loads(detail_json), prev, digest
        )
        for listener in self._listeners:
            listener(record)

    def _write_head(self, seq: int, digest: str) -> None:
        tmp = self._head_file.with_suffix(f".{os.getpid()}.tmp")  # the CLI writes too
        with open(tmp, "w") as f:
            f.write(f"{seq} {digest}\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._head_file)

    def records(
        self, *, event_prefix: str = "", limit: int | None = None, newest_first: bool = False
    ) -> Iterator[AuditRecord]:
        """Stored records, optionally filtered by event name prefix."""
        order = "DESC" if newest_first else "ASC"
        sql = f"SELECT * FROM audit WHERE event LIKE ? ORDER BY seq {order}"  # noqa: S608
        params: tuple[object, ...] = (event_prefix.replace("%", r"\%") + "%",)
        if limit is not None:
            sql += " LIMIT ?"
            params += (limit,)
        for row in self._db.query(sql, params):
            yield AuditRecord(
                row["seq"],
                row["time"],
                row["event"],
                row["actor"],
                row["source"],
                row["outcome"],
                json.loads(row["detail"]),
                row["prev_hash"],
                row["hash"],
            )

    def verify(self) -> list[str]:
        """Check the whole chain; return the problems found (empty when intact)."""
        problems: list[str] = []
        prev, expected_seq = GENESIS, 1
        for row in self._db.query("SELECT * FROM audit ORDER BY seq"):
            seq = row["seq"]
            if seq != expected_seq:
                problems.append(f"record {expected_seq} to {seq - 1} missing")
            if row["prev_hash"] != prev:
                problems.append(
                    f"record {seq}: does not follow its predecessor (reordered or "
                    "a record before it was removed)"
                )
            digest = chain_hash(
                row["prev_hash"],
                seq,
                row["time"],
                row["event"],
                row["actor"],
                row["source"],
                row["outcome"],
                row["detail"],
            )
            if digest != row["hash"]:
                problems.append(f"record {seq}: contents do not match its hash (edited)")
            prev, expected_seq = row["hash"], seq + 1
        head = self._read_head()
        if head is not None:
            head_seq, head_hash = head
            if head_seq >= expected_seq:
                problems.append(f"records {expected_seq} to {head_seq} cut off the end")
            elif head_seq == expected_seq - 1 and head_hash != prev:
                problems.append(f"record {head_seq}: differs from the recorded head")
        return problems

    def _read_head(self) -> tuple[int, str] | None:
        try:
            seq_text, digest = self._head_file.read_text().split()
            return int(seq_text), digest
        except (FileNotFoundError, ValueError):
            return None
