"""The site the web benchmark loads, run as its own process.

`real`: the controller and its web front composed as `runtime.run_controller` does,
over a store seeded with N enrolled stations and S past sessions; OCPP and HTTPS on
127.0.0.1, ports chosen by the system.
`fake`: the web layer over the fake facade with the same numbers (no controller, no OCPP).

Both make a viewer account with a login session and a read API token through the web
layer's own stores and print `READY <ocpp port or 0> <web port> <cookie> <token>`.
They run until stdin closes, then stop cleanly (the parent going away stops them too).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from evsite.clock import SystemClock
from evsite.config import parse_settings
from evsite.controller import Controller
from evsite.platform import NoPlatform
from evsite.runtime import SETTINGS_FILE, open_controller_db, start_web
from evsite.web.context import WebContext
from evsite.web.roles import Role
from tests.bench.ocpp_servers import BENCH_KEY, raise_fd_limit
from tests.bench.site_seed import seed_site
from tests.unit.web.support import make_site

VIEWER = "bench-viewer"
VIEWER_PASSWORD = "Quiet-Harbour-Lantern-7"  # a throwaway bench account


def make_viewer(ctx: WebContext) -> tuple[str, str]:
    """A viewer's login cookie and a read API token, made by the web layer's own stores."""
    user = ctx.accounts.add(VIEWER, Role.VIEWER, VIEWER_PASSWORD)
    ctx.first_access.mark_done()  # no setup redirect: an administrator would have done it
    cookie, _ = ctx.sessions.create(user.user_id, "bench")
    token, _ = ctx.tokens.create("bench", "read", VIEWER)
    return cookie, token


async def parent_gone() -> None:
    """Return when stdin reaches end of file (the parent closed it or exited)."""
    await asyncio.to_thread(sys.stdin.read)


async def run_real(data_dir: Path, stations: int, sessions: int) -> None:
    settings = parse_settings(
        {
            "ocpp": {"bind": "127.0.0.1", "port": 0, "flood_rate": 1000.0, "flood_burst": 10000},
            "web": {"host": "127.0.0.1", "port": 0, "redirect_port": 0},
        }
    )
    clock = SystemClock()
    db = open_controller_db(data_dir)
    seed_site(db, clock.now(), stations, sessions, BENCH_KEY)
    controller = Controller(settings, data_dir, clock, db)
    # What build_platform gives for settings without a [platform] table.
    platform = NoPlatform()
    ports = await controller.start()
    front = None
    try:
        front = await start_web(controller, platform, data_dir / SETTINGS_FILE)
        cookie, token = await asyncio.to_thread(make_viewer, front.service.context)
        print(f"READY {ports.ocpp_tls} {front.port} {cookie} {token}", flush=True)
        await parent_gone()
    finally:
        if front is not None:
            await front.stop()
        await controller.stop()
        db.close()


def run_fake(data_dir: Path, stations: int, sessions: int) -> None:
    site = make_site(data_dir, stations=stations, sessions=sessions)
    cookie, token = make_viewer(site.web.context)
    site.web.start()
    try:
        print(f"READY 0 {site.web.https.port} {cookie} {token}", flush=True)
        sys.stdin.read()
    finally:
        site.web.stop()
        site.db.close()


def main() -> None:
    """Entry: python -m tests.bench.web_site_server real|fake DATA_DIR STATIONS SESSIONS."""
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=("real", "fake"))
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("stations", type=int)
    parser.add_argument("sessions", type=int)
    args = parser.parse_args()
    raise_fd_limit()
    if args.kind == "real":
        asyncio.run(run_real(args.data_dir, args.stations, args.sessions))
    else:
        run_fake(args.data_dir, args.stations, args.sessions)


if __name__ == "__main__":
    main()
