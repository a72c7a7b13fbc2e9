"""CLI: `bundle info|verify FILE` and `update install FILE|status|mark-good`."""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import evsite
from evsite.clock import SystemClock
from evsite.config_errors import ConfigError
from evsite.store.audit import AuditLog
from evsite.store.db import open_database
from evsite.update.bundle import verify_bundle_file
from evsite.update.errors import UpdateError
from evsite.update.install import InstallPolicy, Progress, check_policy
from evsite.update.keyring import Keyring, KeyringError
from evsite.update.settings import UpdateSettings, parse_update_settings
from evsite.update.slot import read_booted_slot
from evsite.update.state import StateStore
from evsite.update.system import UpdateSystem, build_update_system, make_bootchooser

EXIT_OK, EXIT_REFUSED, EXIT_CONFIG = 0, 1, 2
Command = Callable[[argparse.Namespace], int]


def _settings(args: argparse.Namespace) -> UpdateSettings:
    return parse_update_settings(args.raw_config.get("update", {}))


def _no_reboot() -> None:
    # The CLI never reboots by itself; the operator (or the app) does.
    print("reboot required", file=sys.stderr)


def _system(args: argparse.Namespace, settings: UpdateSettings) -> UpdateSystem:
    data_dir: Path = args.data_dir
    clock = SystemClock()
    audit = AuditLog(open_database(data_dir), clock)
    return build_update_system(
        settings,
        data_dir=data_dir,
        audit=audit,
        clock=clock,
        running_version=evsite.__version__,
        reboot=_no_reboot,
    )


def _guard(func: Command) -> Command:
    """Turn the expected failures into a message and an exit code."""

    @functools.wraps(func)
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except ConfigError as exc:
            print(f"configuration error: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        except KeyringError as exc:
            print(f"keyring error: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        except UpdateError as exc:
            print(f"refused ({exc.reason.value}): {exc.message}", file=sys.stderr)
            return EXIT_REFUSED
        except OSError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_REFUSED

    return wrapped


@_guard
def cmd_bundle_info(args: argparse.Namespace) -> int:
    """Show a bundle's verified manifest and signer."""
    settings = _settings(args)
    header = verify_bundle_file(
        args.file,
        Keyring.load(settings.keyring),
        StateStore(settings.state_path(args.data_dir)).load().revoked_keys,
    )
    print(json.dumps({"key_id": header.key_id, "manifest": header.manifest.to_dict()}, indent=2))
    return EXIT_OK


@_guard
def cmd_bundle_verify(args: argparse.Namespace) -> int:
    """Verify signature, framing and payload hashes, and that this device would accept it."""
    settings = _settings(args)
    state = StateStore(settings.state_path(args.data_dir)).load()
    header = verify_bundle_file(args.file, Keyring.load(settings.keyring), state.revoked_keys)
    if settings.board is not None:
        check_policy(
            header.manifest,
            InstallPolicy(settings.board, evsite.__version__, settings.allow_development),
            state.min_version,
        )
    print(
        f"OK: {args.file.name}: version {header.manifest.version} for "
        f"{header.manifest.compatible} ({header.manifest.build}), signed by {header.key_id}"
    )
    return EXIT_OK


def _print_progress() -> Callable[[Progress], None]:
    last = [-1]

    def report(p: Progress) -> None:
        percent = 100 * p.done // max(p.total, 1)
        if p.phase == "write" and percent // 10 != last[0]:
            last[0] = percent // 10
            print(f"writing {p.payload}: {percent}%", file=sys.stderr, flush=True)

    return report


@_guard
def cmd_update_install(args: argparse.Namespace) -> int:
    """Install a bundle into the inactive slot and arm its one-shot trial boot."""
    system = _system(args, _settings(args))
    result = system.installer.install(args.file, progress=_print_progress(), actor="cli")
    print(f"installed {result.version} into slot {result.slot}; reboot to try it")
    return EXIT_OK


@_guard
def cmd_update_status(args: argparse.Namespace) -> int:
    """Show the booted slot, boot order and counters, and the stored update state."""
    settings = _settings(args)
    state = StateStore(settings.state_path(args.data_dir)).load()
    boot = make_bootchooser(settings, args.data_dir).state()
    status = {
        "booted": read_booted_slot(settings.cmdline_path(args.data_dir)),
        "primary": boot.primary(),
        "boot_order": list(boot.order),
        "attempts_left": dict(boot.left),
        "min_version": state.min_version,
        "revoked_keys": list(state.revoked_keys),
        "versions": state.versions,
        "pending": state.pending.__dict__ if state.pending else None,
        "last_rejected": state.last_rejected.__dict__ if state.last_rejected else None,
    }
    print(json.dumps(status, indent=2, default=list))
    return EXIT_OK


@_guard
def cmd_update_mark_good(args: argparse.Namespace) -> int:
    """Commit the booted slot now (an operator's decision, without the health probes)."""
    outcome = _system(args, _settings(args)).confirmer.mark_good(actor="cli")
    print(outcome.value)
    return EXIT_OK


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parents: list[argparse.ArgumentParser]
) -> None:
    """Add the `bundle` and `update` subcommands."""
    bundle = sub.add_parser("bundle", help="inspect update bundles")
    bundle_sub = bundle.add_subparsers(dest="bundle_command", required=True)
    for name, func in (("info", cmd_bundle_info), ("verify", cmd_bundle_verify)):
        p = bundle_sub.add_parser(name, parents=parents, help=func.__doc__)
        p.add_argument("file", type=Path, help="the bundle file")
        p.set_defaults(func=func)

    update = sub.add_parser("update", help="install and commit updates")
    update_sub = update.add_subparsers(dest="update_command", required=True)
    install = update_sub.add_parser("install", parents=parents, help=cmd_update_install.__doc__)
    install.add_argument("file", type=Path, help="the bundle file")
    install.set_defaults(func=cmd_update_install)
    for name, func in (("status", cmd_update_status), ("mark-good", cmd_update_mark_good)):
        update_sub.add_parser(name, parents=parents, help=func.__doc__).set_defaults(func=func)


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (`python -m evsite.update.commands`) until the root CLI exists."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, default=Path(".run"))
    common.add_argument("--config", type=Path, default=None, help="TOML configuration file")
    parser = argparse.ArgumentParser(prog="evsite")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub, [common])
    args = parser.parse_args(argv)
    args.raw_config = {}
    if args.config is not None:
        try:
            args.raw_config = tomllib.loads(args.config.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            print(f"configuration error: {args.config}: {exc}", file=sys.stderr)
            return EXIT_CONFIG
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
