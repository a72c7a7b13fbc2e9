"""The phase imbalance limit on the single-phase stations' load at the site.

Definition: for each site phase, sum the limits given to single-phase
stations on it; the largest such sum may exceed the smallest by at most the
imbalance limit. Three-phase stations load all phases alike and do not count;
the building's own imbalance is not ours to control.
"""

from __future__ import annotations

from collections.abc import Sequence

from evsite.energy.model import Phase, StationSpec


def single_phase_load(amps: Sequence[float], phase_of: Sequence[Phase | None]) -> list[float]:
    """Amps given to single-phase stations, per site phase."""
    load = [0.0, 0.0, 0.0]
    for x, phase in zip(amps, phase_of, strict=True):
        if phase is not None:
            load[phase] += x
    return load


def _water_level(values: list[float], total: float) -> float:
    """The level λ with sum(min(v, λ)) == total (values not empty, 0 <= total <= sum)."""
    ordered = sorted(values)
    left = total
    for k, v in enumerate(ordered):
        share = left / (len(ordered) - k)
        if share <= v:
            return share
        left -= v
    return ordered[-1]


def cut(
    amps: list[float],
    phase_of: Sequence[Phase | None],
    specs: Sequence[StationSpec],
    rank: Sequence[tuple[int, int]],
    limit: float,
) -> dict[int, Phase]:
    """Lower single-phase stations on over-loaded phases until the limit holds; return who was cut.

    Lowest tier first; within it one common lower level (so equals stay
    equal); a station that would drop below its minimum is paused instead,
    the last one in the serving order first. `rank` is (tier number in serving
    order, queue position) per station: bigger is cut first. Only ever lowers currents, so no other
    limit can be broken by it.
    """
    changed: dict[int, Phase] = {}
    for _ in range(4 * len(amps) + 4):
        load = single_phase_load(amps, phase_of)
        high = Phase(max(range(3), key=lambda p: load[p]))
        excess = load[high] - min(load) - limit
        if excess <= 1e-6:
            break
        on_high = [i for i, p in enumerate(phase_of) if p == high and amps[i] > 0]
        lowest = max(rank[i][0] for i in on_high)
        group = [i for i in on_high if rank[i][0] == lowest]
        level = _water_level(
            [amps[i] for i in group], max(0.0, sum(amps[i] for i in group) - excess)
        )
        over = [i for i in group if amps[i] > level]
        too_low = [i for i in over if specs[i].round_down(level) <= 0]
        if too_low:
            victim = max(too_low, key=lambda i: rank[i][1])
            amps[victim] = 0.0
            changed[victim] = high
            continue
        for i in over:
            amps[i] = specs[i].round_down(level)
            changed[i] = high
    return changed
