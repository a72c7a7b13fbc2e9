"""Charge sessions, badges and their groups, and the audit log, for the web layer.

Reads use the facade's own connection; writes go through the store's one
writer, which is safe from any thread. Badge groups live in a table of their
own (FACADE_MIGRATIONS), since the core schema knows only a group's name.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from evsite.clock import iso_utc
from evsite.facade.core import FacadeCore, parse_time
from evsite.store.audit import AuditRecord
from evsite.store.badges import Badge as StoredBadge
from evsite.store.transactions import TransactionRecord
from evsite.web.facade import (
    Badge,
    BadgeGroup,
    ChargeSession,
    FacadeError,
    GroupStrategy,
    SessionPage,
    SessionQuery,
)

STRATEGIES: tuple[GroupStrategy, ...] = ("local", "csms", "local_first")
_GROUP = re.compile(r"^[A-Za-z0-9 ._-]{1,40}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class SessionHistoryPart(FacadeCore):
    """SessionHistory: the transactions table, filtered and paged."""

    def query_sessions(self, query: SessionQuery) -> SessionPage:
        """Sessions newest first; running ones carry the energy metered so far."""
        filters: dict[str, Any] = {
            "station_id": query.station_id,
            "id_tag": query.badge,
            "since": iso_utc(query.since) if query.since else None,
            "until": iso_utc(query.until) if query.until else None,
        }
        records = self._read_transactions.history(
            **filters, limit=max(0, query.limit), offset=max(0, query.offset)
        )
        total = self._read_transactions.count(**filters)
        running = {r.id for r in records if r.stop_time is None}
        energies = self._bridge.run(self._running_energy(running)) if running else {}
        return SessionPage(tuple(_session(r, energies) for r in records), total)

    async def _running_energy(self, ids: set[int]) -> dict[int, float]:
        energy: dict[int, float] = {}
        for view in self._controller.live.stations():
            for c in view.connectors.values():
                if c.transaction_id in ids and c.energy_wh is not None:
                    energy[c.transaction_id] = c.energy_wh
        return energy


def _session(r: TransactionRecord, meter_now: Mapping[int, float]) -> ChargeSession:
    if r.energy_wh is not None:
        energy = float(r.energy_wh)
    elif r.id in meter_now:
        energy = max(0.0, meter_now[r.id] - r.meter_start)
    else:
        energy = 0.0
    return ChargeSession(
        session_id=r.id,
        station_id=r.station_id,
        connector_id=r.connector_id,
        badge=r.id_tag,
        started=parse_time(r.start_time) or _EPOCH,
        stopped=parse_time(r.stop_time),
        energy_wh=energy,
        stop_reason=r.stop_reason or "",
    )


class BadgePart(FacadeCore):
    """BadgeStore: the local list; VIP and blocked map onto the stored badge."""

    def badges(self) -> Sequence[Badge]:
        """All badges by idTag."""
        return [_badge(b) for b in self._read_badges.all()]

    def put_badge(self, badge: Badge) -> None:
        """Add or replace; an expiry or parent set elsewhere is kept."""
        self._check_groups([badge])
        try:
            self._controller.badges.put(_stored(badge, self._read_badges.get(badge.id_tag)))
        except ValueError as exc:
            raise FacadeError(str(exc)) from None

    def delete_badge(self, id_tag: str) -> None:
        """Remove a badge."""
        if not self._controller.badges.remove(id_tag):
            raise FacadeError(f"no badge {id_tag}")

    def badge_groups(self) -> Sequence[BadgeGroup]:
        """Groups by name."""
        rows = self._reader.query("SELECT name, strategy FROM badge_groups ORDER BY name")
        return [BadgeGroup(r["name"], cast(GroupStrategy, r["strategy"])) for r in rows]

    def put_badge_group(self, group: BadgeGroup) -> None:
        """Add a group or change its strategy."""
        if not _GROUP.match(group.name):
            raise FacadeError("a group name is 1 to 40 letters, digits, spaces or . _ -")
        if group.strategy not in STRATEGIES:
            raise FacadeError(f"strategy must be one of {', '.join(STRATEGIES)}")
        with self._controller.db.transaction() as conn:
            conn.execute(
                "INSERT INTO badge_groups(name, strategy) VALUES (?, ?)"
                " ON CONFLICT(name) DO UPDATE SET strategy=excluded.strategy",
                (group.name, group.strategy),
            )

    def import_badges(self, badges: Sequence[Badge]) -> int:
        """Add or replace many badges in one transaction: all of them, or none."""
        self._check_groups(badges)
        existing = {b.id_tag.casefold(): b for b in self._read_badges.all()}
        stored = [_stored(b, existing.get(b.id_tag.casefold())) for b in badges]
        for b in stored:
            if not 1 <= len(b.id_tag) <= 20:
                raise FacadeError(f"{b.id_tag!r}: an idTag is 1 to 20 characters")
        try:
            with self._controller.db.transaction() as conn:
                for b in stored:
                    # The badge repository's row, written here so the whole import is one commit.
                    conn.execute("DELETE FROM badges WHERE id_tag=? COLLATE NOCASE", (b.id_tag,))
                    conn.execute(
                        "INSERT INTO badges(id_tag, status, expiry, parent_id_tag, badge_group,"
                        " vip, label) VALUES (?,?,?,?,?,?,?)",
                        (
                            b.id_tag,
                            b.status,
                            b.expiry,
                            b.parent_id_tag,
                            b.group,
                            int(b.vip),
                            b.label,
                        ),
                    )
        except sqlite3.Error as exc:
            raise FacadeError(f"the import failed and nothing was changed: {exc}") from None
        return len(stored)

    def _check_groups(self, badges: Sequence[Badge]) -> None:
        known = {g.name for g in self.badge_groups()}
        unknown = sorted({b.group for b in badges if b.group and b.group not in known})
        if unknown:
            raise FacadeError(f"unknown badge group(s): {', '.join(unknown)}")


def _badge(b: StoredBadge) -> Badge:
    return Badge(b.id_tag, b.label or "", b.group or "", b.vip, b.status == "Blocked")


def _stored(badge: Badge, old: StoredBadge | None) -> StoredBadge:
    if badge.blocked:
        status = "Blocked"
    elif old is not None and old.status != "Blocked":
        status = old.status  # Expired or Invalid stay what the CSMS or an import made them
    else:
        status = "Accepted"
    return StoredBadge(
        badge.id_tag,
        status,
        old.expiry if old else None,
        old.parent_id_tag if old else None,
        badge.group or None,
        badge.vip,
        badge.name or None,
    )


class AuditPart(FacadeCore):
    """AuditView over the hash-chained log."""

    def audit_records(self, event_prefix: str = "", limit: int = 200) -> Sequence[AuditRecord]:
        """The newest records first."""
        return list(
            self._read_audit.records(event_prefix=event_prefix, limit=limit, newest_first=True)
        )

    def audit_export(self) -> Iterator[str]:
        """Every record as a JSON line, oldest first."""
        for record in self._read_audit.records():
            yield record.as_json()

    def audit_verify(self) -> list[str]:
        """Problems in the chain; empty when intact."""
        return self._read_audit.verify()

    def record(
        self,
        event: str,
        *,
        actor: str = "system",
        source: str = "",
        outcome: str = "ok",
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Append one event (the audit log is safe to write from any thread)."""
        self._controller.audit.record(
            event, actor=actor, source=source, outcome=outcome, detail=detail
        )
