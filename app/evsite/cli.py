"""The `evsite` command: the composition root. Parses arguments, loads config, builds, runs."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import signal
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from evsite import __version__
from evsite.clock import SystemClock
from evsite.config import ConfigError, Settings, load_raw, parse_settings
from evsite.ocpp.keys import KeyError_, check_key, generate_key
from evsite.runtime_files import SETTINGS_FILE
from evsite.store.audit import AuditLog
from evsite.store.db import open_database
from evsite.store.stations import StationRepository
from evsite.update import commands as update_commands
from evsite.uplink import commands as uplink_commands
from evsite.web import commands as web_commands

DEVICE_DATA_DIR = Path("/data/evsite")
log = logging.getLogger("evsite")


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        type=Path,
        default=DEVICE_DATA_DIR,
        help=f"where everything the device learns is kept (default {DEVICE_DATA_DIR})",
    )
    common.add_argument(
        "--config", type=Path, default=None, help="TOML settings file (defaults apply without one)"
    )
    return common


def _serving() -> argparse.ArgumentParser:
    serving = argparse.ArgumentParser(add_help=False)
    serving.add_argument("--bind", default=None, help="address to listen on (default 0.0.0.0)")
    serving.add_argument(
        "--ocpp-port",
        type=int,
        default=None,
        help="OCPP WSS port (default 8887; 0 picks a free one)",
    )
    serving.add_argument(
        "--ui-port",
        type=int,
        default=None,
        help="HTTPS UI port (default 443 on the device, 8443 under sim)",
    )
    serving.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    return serving


def build_parser() -> argparse.ArgumentParser:
    """The full command-line interface."""
    common, serving = _common(), _serving()
    parser = argparse.ArgumentParser(
        prog="evsite",
        description="EV charging site controller: OCPP 1.6J local controller, "
        "load manager and CSMS relay.",
    )
    parser.add_argument("--version", action="version", version=f"evsite {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        parents=[common, serving],
        help="serve with the real backends",
        description="Run the controller with the device's real backends.",
    )
    run.set_defaults(func=cmd_run)

    sim = sub.add_parser(
        "sim",
        parents=[common, serving],
        help="run a simulated site: controller, stations with cars, a meter",
        description="Run the controller with a simulated site: N OCPP "
        "stations with cars that arrive, authorize, charge and leave, and a "
        "simulated Modbus meter. For trying evsite and for tests.",
    )
    sim.add_argument(
        "--stations",
        type=int,
        default=10,
        help="number of simulated stations (0: controller and meter only)",
    )
    sim.add_argument("--seed", type=int, default=1, help="random seed for the simulated site")
    sim.add_argument(
        "--site",
        type=Path,
        default=None,
        help="TOML site description: station behaviour and faults as data",
    )
    sim.add_argument(
        "--csms",
        action="store_true",
        help="also run a simulated CSMS and relay every station to it (proxy mode)",
    )
    sim.set_defaults(func=cmd_sim)

    station = sub.add_parser(
        "station",
        help="enroll, list and remove stations",
        description="Manage enrolled stations and enrollment requests.",
    )
    ssub = station.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = ssub.add_parser(
        "add",
        parents=[common],
        help="enroll a station",
        description="Enroll a station. Without --key-file a new key is "
        "generated and printed once; store it in the station.",
    )
    add.add_argument("station_id")
    add.add_argument("--key-file", type=Path, help="file holding a key the station already has")
    add.add_argument(
        "--profile",
        type=int,
        choices=(1, 2, 3),
        default=2,
        help="OCPP security profile (1: Basic over ws, 2: Basic over TLS, 3: mTLS)",
    )
    add.set_defaults(func=cmd_station_add)
    lst = ssub.add_parser(
        "list",
        parents=[common],
        help="list enrolled and pending stations",
        description="List enrolled stations and pending enrollment requests.",
    )
    lst.add_argument("--json", action="store_true", help="machine-readable output")
    lst.set_defaults(func=cmd_station_list)
    rm = ssub.add_parser(
        "remove",
        parents=[common],
        help="unenroll a station (disconnects it)",
        description="Unenroll a station; a running controller disconnects it at once.",
    )
    rm.add_argument("station_id")
    rm.set_defaults(func=cmd_station_remove)
    approve = ssub.add_parser(
        "approve",
        parents=[common],
        help="approve a pending station",
        description="Enroll a station from the pending list; prints its "
        "new key once (or takes --key-file).",
    )
    approve.add_argument("station_id")
    approve.add_argument("--key-file", type=Path, help="file holding the station's key")
    approve.add_argument(
        "--profile", type=int, choices=(1, 2, 3), default=2, help="OCPP security profile"
    )
    approve.set_defaults(func=cmd_station_approve)
    reject = ssub.add_parser(
        "reject",
        parents=[common],
        help="reject a pending station",
        description="Drop a pending enrollment request.",
    )
    reject.add_argument("station_id")
    reject.set_defaults(func=cmd_station_reject)

    status = sub.add_parser(
        "status",
        parents=[common],
        help="show each station's limit and the constraint that binds it",
        description="Show the running controller's live state: site meter, stations, the "
        "current limit each station has and the constraint that binds it.",
    )
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=cmd_status)

    audit = sub.add_parser(
        "audit",
        help="verify and export the audit log",
        description="The hash-chained audit log of security events.",
    )
    asub = audit.add_subparsers(dest="action", required=True, metavar="ACTION")
    verify = asub.add_parser(
        "verify",
        parents=[common],
        help="check the hash chain",
        description="Check that no record was edited, removed or reordered.",
    )
    verify.set_defaults(func=cmd_audit_verify)
    export = asub.add_parser(
        "export",
        parents=[common],
        help="write records as JSON lines",
        description="Write the audit log as JSON lines (to stdout or --out).",
    )
    export.add_argument("--out", type=Path, help="file to write (default: stdout)")
    export.set_defaults(func=cmd_audit_export)
    # Each package adds its own admin commands; they get --data-dir and --config too.
    web_commands.register(sub, [_common()])
    update_commands.register(sub, [_common()])
    uplink_commands.register(sub, _common())
    return parser


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _stations(args: argparse.Namespace) -> tuple[StationRepository, AuditLog]:
    clock = SystemClock()
    db = open_database(args.data_dir)
    return StationRepository(db, clock), AuditLog(db, clock)


def _read_key(args: argparse.Namespace) -> tuple[str, bool]:
    if args.key_file is None:
        return generate_key(), True
    return check_key(args.key_file.read_text().strip()), False


def cmd_station_add(args: argparse.Namespace) -> int:
    """Enroll a station."""
    stations, audit = _stations(args)
    if stations.exists(args.station_id):
        print(f"error: station {args.station_id} is already enrolled", file=sys.stderr)
        return 1
    return _enroll(args, stations, audit, "station.enrolled")


def _enroll(
    args: argparse.Namespace, stations: StationRepository, audit: AuditLog, event: str
) -> int:
    key, generated = (None, False) if args.profile == 3 else _read_key(args)
    stations.add(args.station_id, key, args.profile)
    audit.record(
        event, actor=_actor(), detail={"station": args.station_id, "profile": args.profile}
    )
    print(f"enrolled {args.station_id} (security profile {args.profile})")
    if generated:
        print(f"key (shown once, set it as the station's AuthorizationKey): {key}")
    return 0


def cmd_station_list(args: argparse.Namespace) -> int:
    """List stations."""
    stations, _ = _stations(args)
    enrolled, pending = stations.all(), stations.pending()
    if args.json:
        print(
            json.dumps(
                {
                    "enrolled": [
                        {**s.__dict__, "addresses": [a.__dict__ for a in stations.addresses(s.id)]}
                        for s in enrolled
                    ],
                    "pending": [p.__dict__ for p in pending],
                },
                indent=2,
            )
        )
        return 0
    print(f"{'STATION':<24} {'PROFILE':<8} {'MODEL':<20} {'LAST SEEN':<25} ADDRESSES")
    for s in enrolled:
        addresses = ", ".join(a.address for a in stations.addresses(s.id)) or "-"
        print(
            f"{s.id:<24} {s.security_profile:<8} {(s.model or '-'):<20} "
            f"{(s.last_seen_at or 'never'):<25} {addresses}"
        )
    if pending:
        print(f"\npending enrollment ({len(pending)}):")
        for p in pending:
            print(
                f"  {p.station_id:<24} from {p.address:<16} via {p.source}, "
                f"{p.attempts} attempts, last {p.last_seen}"
            )
    return 0


def cmd_station_remove(args: argparse.Namespace) -> int:
    """Unenroll a station."""
    stations, audit = _stations(args)
    if not stations.remove(args.station_id):
        print(f"error: station {args.station_id} is not enrolled", file=sys.stderr)
        return 1
    audit.record("station.removed", actor=_actor(), detail={"station": args.station_id})
    print(f"removed {args.station_id}")
    return 0


def cmd_station_approve(args: argparse.Namespace) -> int:
    """Enroll a pending station."""
    stations, audit = _stations(args)
    if stations.get_pending(args.station_id) is None:
        print(f"error: no pending enrollment for {args.station_id}", file=sys.stderr)
        return 1
    return _enroll(args, stations, audit, "station.approved")


def cmd_station_reject(args: argparse.Namespace) -> int:
    """Drop a pending enrollment."""
    stations, audit = _stations(args)
    if not stations.reject_pending(args.station_id):
        print(f"error: no pending enrollment for {args.station_id}", file=sys.stderr)
        return 1
    audit.record("station.rejected", actor=_actor(), detail={"station": args.station_id})
    print(f"rejected {args.station_id}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Print the live status the running controller writes."""
    from evsite.status import format_status, read_status

    status = read_status(args.data_dir)
    if status is None:
        print(f"error: no status in {args.data_dir}: is the controller running?", file=sys.stderr)
        return 1
    print(json.dumps(status, indent=2) if args.json else format_status(status))
    age = (SystemClock().now() - datetime.fromisoformat(status["time"])).total_seconds()
    if age > 10:
        print(
            f"warning: this status is {age:.0f} s old; the controller may not be running",
            file=sys.stderr,
        )
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Verify the audit chain."""
    _, audit = _stations(args)
    problems = audit.verify()
    for problem in problems:
        print(f"TAMPERED: {problem}")
    if not problems:
        count = sum(1 for _ in audit.records())
        print(f"audit log intact: {count} records")
    return 1 if problems else 0


def cmd_audit_export(args: argparse.Namespace) -> int:
    """Export the audit log."""
    _, audit = _stations(args)
    out = open(args.out, "w") if args.out else sys.stdout  # noqa: SIM115
    try:
        for record in audit.records():
            out.write(record.as_json() + "\n")
    finally:
        if args.out:
            out.close()
    return 0


def merge_tables(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Lay one config over another: tables merge key by key, lists and values replace."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_tables(merged[key], value)
        else:
            merged[key] = value
    return merged


def _settings(args: argparse.Namespace, *, sim: bool) -> Settings:
    # Settings saved from the web UI live in the data directory (the device's root is
    # read-only) and lie over the --config file; command-line flags lie over both.
    saved = args.data_dir / SETTINGS_FILE
    raw = merge_tables(load_raw(args.config), load_raw(saved) if saved.exists() else {})
    ocpp = dict(raw.get("ocpp", {}))
    if args.bind is not None:
        ocpp["bind"] = args.bind
    if args.ocpp_port is not None:
        ocpp["port"] = args.ocpp_port
    raw = {**raw, "ocpp": ocpp}
    web = dict(raw.get("web", {}))
    if args.ui_port is not None:
        web["port"] = args.ui_port
    elif sim:
        web.setdefault("port", 8443)
    if sim:
        web.setdefault("redirect_port", 0)  # port 80 is the device's; not for a dev machine
    if args.bind is not None:
        web["host"] = args.bind
    raw["web"] = web
    return parse_settings(raw)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("websockets", "ocpp", "pymodbus"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _serve_until_signal(main: Callable[[asyncio.Event], Any]) -> int:
    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(runner())
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Serve with the real backends."""
    from evsite.runtime import run_controller

    _setup_logging(args.verbose)
    settings = _settings(args, sim=False)
    return _serve_until_signal(lambda stop: run_controller(settings, args.data_dir, stop))


def cmd_sim(args: argparse.Namespace) -> int:
    """Run a simulated site."""
    from evsite.sim.description import load_site
    from evsite.sim.site import run_simulated_site

    if args.stations < 0:
        print("error: --stations must be 0 or more", file=sys.stderr)
        return 2
    _setup_logging(args.verbose)
    settings = _settings(args, sim=True)
    return _serve_until_signal(
        lambda stop: run_simulated_site(
            settings,
            args.data_dir,
            args.stations,
            args.seed,
            stop,
            load_site(args.site),
            csms=args.csms,
        )
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `evsite` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.raw_config = load_raw(getattr(args, "config", None))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        result: int = args.func(args)
    except (ConfigError, KeyError_) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())
