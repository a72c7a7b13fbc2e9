"""`evsite user ...`: manage web accounts from the device's console."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evsite.clock import SystemClock
from evsite.store.audit import AuditLog
from evsite.store.db import Database, open_database
from evsite.web.accounts import AccountError, Accounts
from evsite.web.firstaccess import FirstAccess
from evsite.web.passwords import Passwords
from evsite.web.roles import Role
from evsite.web.schema import WEB_MIGRATIONS
from evsite.web.sessions import SessionStore
from evsite.web.settings import WebSettings


def register(sub: Any, parents: Sequence[argparse.ArgumentParser]) -> None:
    """Add `user add|list|disable|enable|passwd|role|setup-secret` to the CLI."""
    user = sub.add_parser("user", help="manage web UI accounts", parents=list(parents))
    cmds = user.add_subparsers(dest="user_command", required=True)
    add = cmds.add_parser(
        "add", help="add an account (password from the terminal or stdin)", parents=list(parents)
    )
    add.add_argument("username")
    add.add_argument("--role", default="viewer", choices=[r.label for r in Role])
    add.set_defaults(func=cmd_add)
    cmds.add_parser("list", help="list accounts", parents=list(parents)).set_defaults(func=cmd_list)
    for name, func, text in (
        ("disable", cmd_disable, "disable an account, ending its sessions"),
        ("enable", cmd_enable, "enable an account again"),
        ("passwd", cmd_passwd, "set an account's password"),
    ):
        p = cmds.add_parser(name, help=text, parents=list(parents))
        p.add_argument("username")
        p.set_defaults(func=func)
    role = cmds.add_parser("role", help="change an account's role", parents=list(parents))
    role.add_argument("username")
    role.add_argument("role", choices=[r.label for r in Role])
    role.set_defaults(func=cmd_role)
    cmds.add_parser(
        "setup-secret",
        help="print the one-time setup secret (before the first admin exists)",
        parents=list(parents),
    ).set_defaults(func=cmd_setup_secret)


class _Tools:
    """What each subcommand needs, opened from the data directory."""

    def __init__(self, args: argparse.Namespace) -> None:
        data_dir: Path = args.data_dir
        settings = WebSettings.from_config(dict(args.raw_config.get("web", {})))
        clock = SystemClock()
        self.db: Database = open_database(data_dir, extra={"web": WEB_MIGRATIONS})
        self.audit = AuditLog(self.db, clock)
        self.accounts = Accounts(self.db, clock, Passwords())
        self.sessions = SessionStore(
            self.db, clock, settings.idle_timeout_s, settings.absolute_timeout_s
        )
        self.first_access = FirstAccess(self.db, data_dir, lambda: False)

    def user_id(self, username: str) -> int:
        user = self.accounts.by_name(username)
        if user is None:
            raise AccountError(f"no user {username}")
        return user.user_id

    def record(self, event: str, **detail: Any) -> None:
        self.audit.record(event, actor="console", source="cli", detail=detail)


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("New password: ")
    if first != getpass.getpass("Again: "):
        raise AccountError("the two passwords differ")
    return first


def _run(args: argparse.Namespace, action: Any) -> int:
    try:
        tools = _Tools(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        action(tools)
        return 0
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        tools.db.close()


def cmd_add(args: argparse.Namespace) -> int:
    """Add an account; the first admin made here also closes web setup."""

    def action(t: _Tools) -> None:
        user = t.accounts.add(args.username, Role.parse(args.role), _read_password())
        t.record("user.added", username=user.username, role=user.role.label)
        if user.role is Role.ADMIN and not t.first_access.done():
            t.first_access.mark_done()
            t.record("web.setup", method="console", username=user.username)
        print(f"added {user.username} ({user.role.label})")

    return _run(args, action)


def cmd_list(args: argparse.Namespace) -> int:
    """Print the accounts."""

    def action(t: _Tools) -> None:
        for u in t.accounts.list():
            print(f"{u.username}\t{u.role.label}\t{'disabled' if u.disabled else 'active'}")

    return _run(args, action)


def cmd_disable(args: argparse.Namespace) -> int:
    """Disable an account and end its sessions."""

    def action(t: _Tools) -> None:
        uid = t.user_id(args.username)
        t.accounts.set_disabled(uid, True)
        t.sessions.end_all_for(uid)
        t.record("user.disabled", username=args.username)
        print(f"disabled {args.username}")

    return _run(args, action)


def cmd_enable(args: argparse.Namespace) -> int:
    """Enable an account."""

    def action(t: _Tools) -> None:
        t.accounts.set_disabled(t.user_id(args.username), False)
        t.record("user.enabled", username=args.username)
        print(f"enabled {args.username}")

    return _run(args, action)


def cmd_passwd(args: argparse.Namespace) -> int:
    """Set a password and end the account's sessions."""

    def action(t: _Tools) -> None:
        uid = t.user_id(args.username)
        t.accounts.set_password(uid, _read_password())
        t.sessions.end_all_for(uid)
        t.record("user.password.reset", username=args.username)
        print(f"password set for {args.username}")

    return _run(args, action)


def cmd_role(args: argparse.Namespace) -> int:
    """Change a role and end the account's sessions."""

    def action(t: _Tools) -> None:
        uid = t.user_id(args.username)
        t.accounts.set_role(uid, Role.parse(args.role))
        t.sessions.end_all_for(uid)
        t.record("user.role.changed", username=args.username, role=args.role)
        print(f"{args.username} is now {args.role}")

    return _run(args, action)


def cmd_setup_secret(args: argparse.Namespace) -> int:
    """Print the setup secret, creating it if needed; say so when setup is done."""

    def action(t: _Tools) -> None:
        secret = t.first_access.ensure_secret()
        if secret is None:
            raise AccountError("setup is complete: an administrator exists")
        print(secret)

    return _run(args, action)
