"""Admin commands for upstream credentials: `evsite uplink password|certificate|list`."""

from __future__ import annotations

import argparse
import secrets
import sys
from typing import Any

from evsite.clock import SystemClock
from evsite.store.audit import AuditLog
from evsite.store.db import open_database
from evsite.uplink.credentials import CredentialError, CredentialStore
from evsite.uplink.schema import UPLINK_MIGRATIONS


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the `uplink` command group to the CLI's subparsers (common: --data-dir, --config)."""
    uplink = sub.add_parser(
        "uplink", help="upstream CSMS credentials", description="Credentials towards the CSMS."
    )
    usub = uplink.add_subparsers(dest="action", required=True, metavar="ACTION")
    password = usub.add_parser(
        "password",
        parents=[common],
        help="set an identity's Basic password (profile 2)",
        description="Set the password an identity presents to the CSMS. Without "
        "--password-file a new one is generated and printed once.",
    )
    password.add_argument("identity")
    password.add_argument("--password-file", help="file holding the password the CSMS expects")
    password.set_defaults(func=cmd_password)
    cert = usub.add_parser(
        "certificate",
        parents=[common],
        help="set an identity's client certificate (profile 3)",
        description="Store the client certificate chain and key an identity presents.",
    )
    cert.add_argument("identity")
    cert.add_argument("--cert", required=True, help="PEM certificate chain")
    cert.add_argument("--key", required=True, help="PEM private key")
    cert.set_defaults(func=cmd_certificate)
    lst = usub.add_parser(
        "list",
        parents=[common],
        help="list identities with credentials (never the secrets)",
        description="Identities with upstream credentials and their profile.",
    )
    lst.set_defaults(func=cmd_list)


def _open(args: argparse.Namespace) -> tuple[CredentialStore, AuditLog]:
    clock = SystemClock()
    db = open_database(args.data_dir, extra={"uplink": UPLINK_MIGRATIONS})
    return CredentialStore(db, clock), AuditLog(db, clock)


def cmd_password(args: argparse.Namespace) -> int:
    """Set a Basic password."""
    store, audit = _open(args)
    generated = args.password_file is None
    if generated:
        value = secrets.token_hex(16)
    else:
        with open(args.password_file) as f:
            value = f.read().strip()
    try:
        store.set_password(args.identity, value)
    except CredentialError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    audit.record("uplink.key_changed", actor="cli", detail={"identity": args.identity})
    print(f"password set for {args.identity}")
    if generated:
        print(f"password (shown once, enter it in the CSMS): {value}")
    return 0


def cmd_certificate(args: argparse.Namespace) -> int:
    """Set a client certificate and key."""
    store, audit = _open(args)
    with open(args.cert) as f:
        cert = f.read()
    with open(args.key) as f:
        key = f.read()
    try:
        store.set_certificate(args.identity, cert, key)
    except CredentialError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    audit.record("uplink.certificate_set", actor="cli", detail={"identity": args.identity})
    print(f"client certificate set for {args.identity}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """List identities (no secrets)."""
    store, _ = _open(args)
    for creds in store.all():
        kinds = [k for k, v in (("password", creds.password), ("cert", creds.cert_pem)) if v]
        print(f"{creds.identity:<32} profile>={creds.security_profile or '-'} {','.join(kinds)}")
    return 0
