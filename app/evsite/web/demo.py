"""Serve the UI with the fake facade, to look at the pages: python -m evsite.web.demo."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from evsite.clock import SystemClock
from evsite.store.db import open_database
from evsite.web.fake_facade import FakeFacade
from evsite.web.schema import WEB_MIGRATIONS
from evsite.web.service import build_web
from evsite.web.settings import WebSettings


def run_demo(data_dir: Path, port: int, host: str = "127.0.0.1", stations: int = 12) -> None:
    """Serve until SIGINT/SIGTERM; prints the setup secret while no admin exists."""
    clock = SystemClock()
    db = open_database(data_dir, extra={"web": WEB_MIGRATIONS})
    facade = FakeFacade(clock, stations=stations, sessions=300)
    settings = WebSettings(host=host, port=port, redirect_port=0)
    web = build_web(db=db, clock=clock, facade=facade, settings=settings, data_dir=data_dir)
    web.start()
    print(f"serving https://{host}:{web.https.port}/", flush=True)
    if web.setup_secret:
        print(f"setup secret: {web.setup_secret}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    web.stop()
    db.close()


def main() -> None:
    """Parse arguments and run the demo."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--stations", type=int, default=12)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    run_demo(args.data_dir, args.port, args.host, args.stations)


if __name__ == "__main__":
    main()
