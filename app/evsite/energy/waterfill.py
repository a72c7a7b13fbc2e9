"""The two numeric steps of allocation over capacity groups: admission and water-filling.

A *group* is a set of stations sharing a capacity: one phase of one node, or
(for the imbalance limit) the single-phase stations on one site phase. Every
station draws the same current on each phase it uses, so a group's load is
the sum of its members' currents. Both steps work on plain lists indexed by
station number and group number, for speed.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

EPS = 1e-9

_UPPER, _START, _GROUP = 0, 1, 2
_WAITING, _RISING, _FROZEN = 0, 1, 2
NO_GROUP = -1


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a session was not admitted: the group short of room, and whether a hold did it."""

    group: int
    held: bool


def admit(
    order: Sequence[int],
    floor: Sequence[float],
    groups_of: Sequence[Sequence[int]],
    capacity: list[float],
    held: tuple[list[float], list[float]],
    running: Sequence[bool],
    due: Sequence[bool],
) -> tuple[list[int], dict[int, Refusal]]:
    """Admit one tier's sessions greedily in `order` while their minimum fits; subtract it.

    `held` is (room held by higher tiers, room held within this tier). Room
    held by a higher tier is closed to everyone here: a lower tier never
    charges where a higher one waits. Room held within the tier is closed to
    paused sessions only; a due session that does not fit holds room in its
    groups (its minimum where there is room, all of it where there is not),
    so newcomers cannot keep it waiting. Returns (admitted, refusals).
    """
    above, here = held
    admitted: list[int] = []
    refused: dict[int, Refusal] = {}
    for i in order:
        need = floor[i] - EPS
        groups = groups_of[i]
        short = next((g for g in groups if capacity[g] < need), NO_GROUP)
        blocked = NO_GROUP
        if short == NO_GROUP:
            blocked = next((g for g in groups if capacity[g] - above[g] < need), NO_GROUP)
        if short == NO_GROUP and blocked == NO_GROUP and not running[i]:
            blocked = next((g for g in groups if capacity[g] - above[g] - here[g] < need), NO_GROUP)
        if short == NO_GROUP and blocked == NO_GROUP:
            for g in groups:
                capacity[g] -= floor[i]
            admitted.append(i)
            continue
        refused[i] = Refusal(short if short != NO_GROUP else blocked, short == NO_GROUP)
        if due[i]:
            for g in groups:
                if capacity[g] - above[g] - here[g] >= need:
                    here[g] += floor[i]
                else:
                    here[g] = math.inf
    return admitted, refused


def fill(
    members: Sequence[int],
    floor: Sequence[float],
    ceiling: Sequence[float],
    groups_of: Sequence[Sequence[int]],
    capacity: list[float],
) -> tuple[dict[int, float], dict[int, int]]:
    """Raise admitted members from their floors by one common water level until each is stopped.

    A member stops at its ceiling (bound NO_GROUP) or when a group it is in
    runs out of room (bound = that group). Members start rising only when
    the level reaches their floor, so a member with a higher minimum is not
    raised further than the others. `capacity` must already have the floors
    subtracted; the extra given is subtracted too. Returns (current, bound)
    per member. Events are kept in a heap, so the cost is about
    (members x groups per member) x log, not members x groups.
    """
    members_of: dict[int, list[int]] = {}
    for i in members:
        for g in groups_of[i]:
            members_of.setdefault(g, []).append(i)
    status = dict.fromkeys(members, _WAITING)
    rising = dict.fromkeys(members_of, 0)
    # base[g] / rising[g] is the level at which group g runs full.
    base = {g: capacity[g] for g in members_of}
    version = dict.fromkeys(members_of, 0)
    current: dict[int, float] = {}
    bound: dict[int, int] = {}
    heap: list[tuple[float, int, int, int]] = [(floor[i], _START, i, 0) for i in members]
    heapq.heapify(heap)

    def touch(g: int) -> None:
        version[g] += 1
        if rising[g]:
            heapq.heappush(heap, (base[g] / rising[g], _GROUP, g, version[g]))

    def freeze(i: int, level: float, by: int) -> None:
        was_rising = status[i] == _RISING
        status[i] = _FROZEN
        bound[i] = by
        if not was_rising:
            current[i] = floor[i]
            return
        amps = max(floor[i], min(level, ceiling[i]))
        current[i] = amps
        extra = amps - floor[i]
        for g in groups_of[i]:
            capacity[g] -= extra
            base[g] -= amps
            rising[g] -= 1
            touch(g)

    while heap:
        level, kind, idx, ver = heapq.heappop(heap)
        if kind == _START:
            if status[idx] != _WAITING:
                continue
            status[idx] = _RISING
            for g in groups_of[idx]:
                rising[g] += 1
                base[g] += floor[idx]
                touch(g)
            heapq.heappush(heap, (ceiling[idx], _UPPER, idx, 0))
        elif kind == _UPPER:
            if status[idx] == _RISING:
                freeze(idx, level, NO_GROUP)
        elif ver == version[idx] and rising[idx]:
            for i in members_of[idx]:
                if status[i] != _FROZEN:
                    freeze(i, level, idx)
    return current, bound
