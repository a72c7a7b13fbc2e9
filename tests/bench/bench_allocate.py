"""allocate() time for 10, 100 and 1,000 stations in a 3-level tree, beside two baselines.

Baselines measured in the same run: building the call's inputs (sessions and
readings, what the control loop does anyway each cycle), and a naive pass
summing every station's maximum up the tree. Numbers only; nothing asserted.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable

from evsite.energy import (
    AllocationState,
    CircuitTree,
    Mode,
    Node,
    Phase,
    PhaseAmps,
    Session,
    Settings,
    StationSpec,
    allocate,
    uniform,
)

SIZES = ((10, 300), (100, 100), (1000, 30))
STEPS = (6.0, 8.0, 10.0, 13.0, 16.0)


def build_tree(stations: int, rng: random.Random) -> CircuitTree:
    """site -> feeders -> sub-feeders -> stations, about the cube root of N wide at each level."""
    width = max(1, round(stations ** (1 / 3)))
    per_sub = math.ceil(stations / (width * width))
    made = 0
    feeders = []
    for f in range(width):
        subs = []
        for s in range(width):
            specs = []
            for _ in range(per_sub):
                if made == stations:
                    break
                specs.append(_station(f"cp{made}", rng))
                made += 1
            limit = 16.0 * max(1, len(specs)) * 0.7
            subs.append(
                Node(
                    id=f"f{f}s{s}",
                    name=f"sub-feeder {f}.{s}",
                    limit=uniform(limit),
                    stations=tuple(specs),
                )
            )
        feeders.append(
            Node(
                id=f"f{f}",
                name=f"feeder {f}",
                limit=uniform(16.0 * per_sub * width * 0.6),
                children=tuple(subs),
                metered=True,
                fallback=uniform(32),
            )
        )
    site_limit = 16.0 * stations * 0.4
    root = Node(
        id="site",
        name="site contract",
        limit=uniform(site_limit),
        children=tuple(feeders),
        metered=True,
        fallback=uniform(32),
    )
    return CircuitTree(root)


def _station(sid: str, rng: random.Random) -> StationSpec:
    if rng.random() < 0.3:
        return StationSpec(id=sid, phases=1, wiring=(rng.choice(list(Phase)),), max_a=32)
    wiring = tuple(rng.sample(list(Phase), 3))
    steps = STEPS if rng.random() < 0.3 else ()
    return StationSpec(id=sid, wiring=wiring, max_a=16, steps=steps, priority=rng.randint(0, 1))


def build_inputs(
    tree: CircuitTree, rng: random.Random
) -> tuple[list[Session], dict[str, PhaseAmps]]:
    """Sessions on every station (some VIP, some drawing less) and readings at metered nodes."""
    sessions = []
    for k, sid in enumerate(tree.placements):
        draw = rng.uniform(0, 16)
        sessions.append(
            Session(
                station_id=sid, vip=k % 17 == 0, measured=(draw, draw, draw), started_at=float(k)
            )
        )
    readings = {n.id: uniform(rng.uniform(0, n.limit[0])) for n in tree.nodes if n.metered}
    return sessions, readings


def naive_sum(tree: CircuitTree) -> float:
    """Every station's maximum added up along its path: the least any allocator must touch."""
    total = [0.0] * (3 * len(tree.nodes))
    for placement in tree.placements.values():
        for n in placement.path:
            for p in placement.site_phases:
                total[3 * n + p] += placement.spec.max_a
    return sum(total)


def timed(fn: Callable[[], object], repeats: int) -> list[float]:
    """Wall time of each of `repeats` calls, in milliseconds."""
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def p99(samples: list[float]) -> float:
    """The 99th percentile (the maximum when there are fewer than 100 samples)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]


def measure(stations: int, repeats: int, rng: random.Random, settings: Settings) -> str:
    """One table row: allocate() in a steady control loop, then the baselines."""
    tree = build_tree(stations, rng)
    sessions, readings = build_inputs(tree, rng)
    state = AllocationState()
    now = 0.0

    def cycle() -> None:
        # A control loop's cycle: state carried over, time moving on.
        nonlocal state, now
        result = allocate(tree, readings, sessions, settings, state, now)
        state, now = result.state, now + 1.0

    cycle()  # warm-up, and the first state
    alloc = timed(cycle, repeats)
    inputs = timed(lambda: build_inputs(tree, random.Random(1)), repeats)
    naive = timed(lambda: naive_sum(tree), repeats)
    last = allocate(tree, readings, sessions, settings, state, now)
    paused = sum(1 for v in last.limits.values() if v.amps == 0)
    med = statistics.median
    return (
        f"{stations:>8} {repeats:>5} | {med(alloc):>9.2f} ms {p99(alloc):>5.2f} ms"
        f" | {med(inputs):>7.2f} ms {med(naive):>7.2f} ms | {paused:>6}"
    )


def main() -> None:
    """Print median and p99 of allocate() beside the baselines, per tree size."""
    rng = random.Random(7)
    settings = Settings(mode=Mode.DYNAMIC, imbalance_limit_a=32)
    print(
        f"{'stations':>8} {'runs':>5} | {'allocate med':>12} {'p99':>8} | "
        f"{'inputs med':>10} {'naive med':>10} | {'paused':>6}"
    )
    for stations, repeats in SIZES:
        print(measure(stations, repeats, rng, settings), flush=True)
