"""Ramping and hysteresis between allocate()'s targets and the limits actually sent.

Lowering is safety: it is sent at once, however small. Raising waits
`raise_hold_s` after the last change, moves at most `raise_step_a` at a time
(when set), and is skipped below `dead_band_a`, so measurement noise does
not make the control loop chatter. Resuming from 0 goes straight to the
target: a ramp from 0 would pass through currents below the minimum.
"""

from __future__ import annotations

from collections.abc import Sequence

from evsite.energy.settings import Settings


def next_command(
    previous: float | None,
    target: float,
    now: float,
    last_change_at: float | None,
    settings: Settings,
    steps: Sequence[float] = (),
) -> float | None:
    """The limit to send now, or None when nothing should be sent.

    `previous` is the limit last sent (None if nothing yet), `last_change_at`
    when it was sent, on the same clock as `now`. `steps` are the station's
    allowed currents, if any: a ramp step is then rounded to one of them.
    """
    if previous is None:
        return target
    if target < previous:
        return target
    rise = target - previous
    if rise <= 0 or rise < settings.dead_band_a:
        return None
    if last_change_at is not None and now - last_change_at < settings.raise_hold_s:
        return None
    if previous <= 0 or settings.raise_step_a is None or rise <= settings.raise_step_a:
        return target
    step = previous + settings.raise_step_a
    if steps:
        below = [s for s in steps if previous < s <= step]
        above = [s for s in steps if s > previous]
        step = max(below) if below else min(above)
    return min(step, target)
