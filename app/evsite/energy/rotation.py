"""Who is served first: priority tiers, and a fair rotation of pauses within a tier.

Within a tier the queue is, in this order:
1. running sessions that got their turn less than one rotation period ago
   (a turn is never cut short by the rotation, so cars are not flapped);
2. paused sessions that have waited a full period ("due"), longest first;
3. other running sessions, the one running longest *last*, so it is the
   first to pause;
4. other paused and new sessions, longest waiting first.
Admission takes the queue greedily, so when room is short the tail pauses.
A due session that still does not fit holds room (see waterfill.admit), so
newcomers cannot keep it waiting: with N sessions of one tier nobody waits
more than N periods.
"""

from __future__ import annotations

from evsite.energy.giveback import GiveBack
from evsite.energy.model import Session, StationSpec
from evsite.energy.state import SessionMemory

QueueKey = tuple[int, int, int, float, float, str]


def tier(session: Session, spec: StationSpec) -> tuple[int, int]:
    """Higher tiers are served first: VIP sessions, then station priority (bigger is first)."""
    return (int(session.vip), spec.priority)


def queue_key(
    session: Session, spec: StationSpec, memory: SessionMemory | None, period: float, now: float
) -> tuple[QueueKey, bool, bool]:
    """Sort key (ascending = served first), and whether the session is running and is due."""
    vip, priority = tier(session, spec)
    tail = (session.started_at, session.station_id)
    if memory is not None and memory.running_since is not None:
        if now - memory.running_since < period:
            return (-vip, -priority, 0, memory.running_since, *tail), True, False
        return (-vip, -priority, 2, -memory.running_since, *tail), True, False
    paused_since = now if memory is None or memory.paused_since is None else memory.paused_since
    if now - paused_since >= period:
        return (-vip, -priority, 1, paused_since, *tail), False, True
    return (-vip, -priority, 3, paused_since, *tail), False, False


def remember(
    memory: SessionMemory | None, session: Session, amps: float, give: GiveBack, now: float
) -> SessionMemory:
    """The memory to carry to the next call, given the current this session was just given."""
    if amps > 0:
        since = now if memory is None or memory.running_since is None else memory.running_since
        return SessionMemory(
            started_at=session.started_at,
            running_since=since,
            low_since=give.low_since,
            cap=give.cap,
            last_limit=amps,
        )
    since = now if memory is None or memory.paused_since is None else memory.paused_since
    # A paused car starts afresh when resumed: it gets its full share, no old cap.
    return SessionMemory(started_at=session.started_at, paused_since=since)
