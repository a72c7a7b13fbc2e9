"""RFID badges: the local authorization list."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from evsite.store.db import Database

BADGE_STATUSES = ("Accepted", "Blocked", "Expired", "Invalid")


@dataclass(frozen=True)
class Badge:
    """One badge (idTag) and what it may do."""

    id_tag: str
    status: str = "Accepted"
    expiry: str | None = None
    parent_id_tag: str | None = None
    group: str | None = None
    vip: bool = False
    label: str | None = None


class BadgeRepository:
    """The local badge list."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def put(self, badge: Badge) -> None:
        """Add or replace a badge."""
        if not 1 <= len(badge.id_tag) <= 20:
            raise ValueError("an idTag is 1 to 20 characters (OCPP CiString20)")
        if badge.status not in BADGE_STATUSES:
            raise ValueError(f"status must be one of {', '.join(BADGE_STATUSES)}")
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO badges(id_tag, status, expiry, parent_id_tag,"
                " badge_group, vip, label) VALUES (?,?,?,?,?,?,?)",
                (
                    badge.id_tag,
                    badge.status,
                    badge.expiry,
                    badge.parent_id_tag,
                    badge.group,
                    int(badge.vip),
                    badge.label,
                ),
            )

    def get(self, id_tag: str) -> Badge | None:
        """Look a badge up; idTags compare case-insensitively (CiString)."""
        row = self._db.query_one("SELECT * FROM badges WHERE id_tag=? COLLATE NOCASE", (id_tag,))
        return _badge(row) if row else None

    def remove(self, id_tag: str) -> bool:
        """Delete a badge; True if it existed."""
        with self._db.transaction() as conn:
            return (
                conn.execute("DELETE FROM badges WHERE id_tag=? COLLATE NOCASE", (id_tag,)).rowcount
                > 0
            )

    def all(self) -> list[Badge]:
        """All badges by idTag."""
        return [_badge(r) for r in self._db.query("SELECT * FROM badges ORDER BY id_tag")]


def _badge(r: sqlite3.Row) -> Badge:
    return Badge(
        r["id_tag"],
        r["status"],
        r["expiry"],
        r["parent_id_tag"],
        r["badge_group"],
        bool(r["vip"]),
        r["label"],
    )
