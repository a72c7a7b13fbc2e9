"""`python -m evsite.uplink`: the controller with the uplink, and credential commands."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from evsite.config import ConfigError, load_raw, parse_settings
from evsite.uplink import commands
from evsite.uplink.runner import run_with_uplink


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, default=Path("/data/evsite"))
    common.add_argument("--config", type=Path, default=None)
    return common


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m evsite.uplink")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", parents=[_common()], help="serve stations with the uplink")
    run.add_argument("--bind", default=None)
    run.add_argument("--ocpp-port", type=int, default=None)
    run.add_argument("-v", "--verbose", action="store_true")
    run.set_defaults(func=_run)
    commands.register(sub, _common())
    args = parser.parse_args(argv)
    try:
        result: int = args.func(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return result


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("websockets", "ocpp"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    raw = load_raw(args.config)
    ocpp = dict(raw.get("ocpp", {}))
    if args.bind is not None:
        ocpp["bind"] = args.bind
    if args.ocpp_port is not None:
        ocpp["port"] = args.ocpp_port
    settings = parse_settings({**raw, "ocpp": ocpp})

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_with_uplink(settings, args.data_dir, stop)

    asyncio.run(runner())
    return 0


if __name__ == "__main__":
    sys.exit(main())
