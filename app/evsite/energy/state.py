"""What allocate() remembers between calls: rotation and give-back bookkeeping per session."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True, slots=True)
class SessionMemory:
    """One session's history as far as allocation needs it.

    Exactly one of `running_since` and `paused_since` is set. `low_since` is
    when the car was first seen drawing clearly less than offered; `cap` is
    the give-back cap in force (None = not capped).
    """

    started_at: float
    running_since: float | None = None
    paused_since: float | None = None
    low_since: float | None = None
    cap: float | None = None
    last_limit: float = 0.0


@dataclass(frozen=True)
class AllocationState:
    """Bookkeeping the caller hands back on the next allocate() call (start with the default)."""

    sessions: Mapping[str, SessionMemory] = field(default_factory=dict)

    def memory(self, station_id: str, started_at: float) -> SessionMemory | None:
        """The memory of this very session, or None if it is new (or the last one ended)."""
        mem = self.sessions.get(station_id)
        return mem if mem is not None and mem.started_at == started_at else None
