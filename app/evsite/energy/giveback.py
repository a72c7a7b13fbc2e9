"""Give-back: a car that draws clearly less than it is offered is capped near its draw.

A car limited by its own charger (or a full battery) would otherwise hold
capacity it cannot use. After drawing less than `offered - threshold` for
`delay` seconds it is capped at `draw + margin` (rounded up to an allowed
step, never below the station minimum); the freed amps go to others. When
its draw rises to within `recover` amps of what it is offered, the cap is
lifted and it gets its full share again on this very call.
"""

from __future__ import annotations

from dataclasses import dataclass

from evsite.energy.model import Session, StationSpec
from evsite.energy.settings import Settings
from evsite.energy.state import SessionMemory


@dataclass(frozen=True, slots=True)
class GiveBack:
    """The give-back verdict for one session on this call."""

    low_since: float | None = None
    cap: float | None = None


def give_back(
    memory: SessionMemory | None,
    session: Session,
    spec: StationSpec,
    settings: Settings,
    now: float,
) -> GiveBack:
    """Decide this session's give-back cap from its draw and what it was offered."""
    draw = session.draw()
    if not settings.giveback or memory is None or memory.last_limit <= 0 or draw is None:
        return GiveBack()
    offered = (
        memory.last_limit if session.offered is None else min(session.offered, memory.last_limit)
    )
    if offered <= 0 or draw >= offered - settings.giveback_recover_a:
        # Drawing (nearly) all it is offered: it may want more, so no cap.
        return GiveBack()
    if draw >= offered - settings.giveback_threshold_a:
        return GiveBack(cap=memory.cap)
    low_since = memory.low_since if memory.low_since is not None else now
    if now - low_since < settings.giveback_delay_s:
        return GiveBack(low_since=low_since, cap=memory.cap)
    cap = spec.round_up(draw + settings.giveback_margin_a)
    if memory.cap is not None:
        cap = min(cap, memory.cap)
    # Restart the timer: lowering the cap further needs another full delay of low draw.
    return GiveBack(low_since=None, cap=cap)
