"""`evsite sim --csms`: the simulated site relayed to a simulated CSMS."""

from __future__ import annotations

import asyncio
from pathlib import Path

from evsite.config import parse_settings
from evsite.sim.csms import SimCsms
from evsite.sim.site import run_simulated_site


async def test_sim_with_csms_relays_every_station_upstream(tmp_path: Path) -> None:
    settings = parse_settings(
        {
            "ocpp": {"bind": "127.0.0.1", "port": 0},
            "web": {"host": "127.0.0.1", "port": 0, "redirect_port": 0},
        }
    )
    stop = asyncio.Event()
    seen: list[SimCsms | None] = []
    run = asyncio.create_task(
        run_simulated_site(settings, tmp_path, 2, 1, stop, csms=True, started=seen.append)
    )
    try:
        for _ in range(400):
            boots = (
                {r.identity for r in seen[0].received if r.action == "BootNotification"}
                if seen and seen[0]
                else set()
            )
            if boots == {"sim-001", "sim-002"}:
                break
            await asyncio.sleep(0.05)
        assert seen and seen[0] is not None
        assert boots == {"sim-001", "sim-002"}
    finally:
        stop.set()
        await asyncio.wait_for(run, 30)
