"""The simulated site's electrical layout, used when the configuration has none."""

from __future__ import annotations

from typing import Any


def default_energy(station_ids: list[str]) -> dict[str, Any]:
    """A metered 63 A site with two feeders; some 1-phase stations on rotated phases."""
    half = (len(station_ids) + 1) // 2
    phases = ["L1", "L2", "L3"]

    def station(n: int, sid: str) -> dict[str, Any]:
        if n % 4 == 3:  # every fourth station is single-phase, spread over the phases
            return {"id": sid, "phases": 1, "wiring": [phases[(n // 4) % 3]], "max_a": 32}
        rotation = phases[n % 3 :] + phases[: n % 3]
        return {
            "id": sid,
            "phases": 3,
            "wiring": rotation,
            "max_a": 32,
            "steps": [6, 8, 10, 13, 16, 20, 25, 32] if n % 5 == 4 else [],
        }

    feeders: list[dict[str, Any]] = [
        {
            "id": "a",
            "name": "feeder A",
            "limit_a": 63,
            "stations": [station(n, s) for n, s in enumerate(station_ids[:half])],
        },
        {
            "id": "b",
            "name": "feeder B",
            "limit_a": 40,
            "stations": [station(n, s) for n, s in enumerate(station_ids[half:], start=half)],
        },
    ]
    for feeder in feeders:
        for entry in feeder["stations"]:
            if not entry.get("steps"):
                entry.pop("steps", None)
    return {
        "mode": "dynamic",
        "rotation_period_s": 120,
        "raise_hold_s": 5,
        "site": {
            "id": "site",
            "name": "site contract",
            "limit_a": 80,
            "metered": True,
            "fallback_a": 32,
            "feeders": [f for f in feeders if f["stations"]],
        },
    }


def default_meter(port: int) -> list[dict[str, Any]]:
    """The simulated site meter: an SDM630 over Modbus TCP on 127.0.0.1."""
    return [
        {
            "name": "site",
            "family": "sdm630",
            "transport": "tcp",
            "host": "127.0.0.1",
            "port": port,
            "unit_id": 1,
            "role": "site",
        }
    ]
