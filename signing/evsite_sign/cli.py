"""The evsite-sign command line: keygen, sign, verify, keyid."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evsite.update.bundle import build_bundle, verify_bundle_file
from evsite.update.errors import UpdateError
from evsite.update.keyring import Keyring, KeyringError
from evsite.update.manifest import PAYLOAD_NAMES, BuildKind
from evsite.update.signature import key_id
from evsite_sign.keys import (
    SigningKeyError,
    dev_key_dir,
    ensure_dev_key,
    load_private_key,
    load_public_key,
    read_passphrase,
    write_key_pair,
)


def cmd_keygen(args: argparse.Namespace) -> int:
    """Make an Ed25519 key pair; the private key encrypted with a passphrase."""
    key = Ed25519PrivateKey.generate()
    private = write_key_pair(args.out, key, read_passphrase(confirm=True))
    print(f"{private} written (encrypted); public key {args.out / 'signing.pub'}")
    print(f"key id {key_id(key.public_key())}")
    return 0


def _payloads(values: list[str]) -> list[tuple[str, Path]]:
    result = []
    for value in values:
        name, sep, file = value.partition("=")
        if not sep or name not in PAYLOAD_NAMES or not file:
            raise SigningKeyError(
                f"--payload {value!r}: expected NAME=FILE, NAME one of {', '.join(PAYLOAD_NAMES)}"
            )
        result.append((name, Path(file)))
    return result


def cmd_sign(args: argparse.Namespace) -> int:
    """Sign payloads into one bundle."""
    build: BuildKind
    if args.key is None or args.key.resolve() == (dev_key_dir() / "signing.key").resolve():
        if args.build == "release":
            raise SigningKeyError("the development key cannot sign release bundles; give --key")
        key_path, build = args.key or ensure_dev_key(), "development"
    else:
        key_path = args.key
        build = "development" if args.build == "development" else "release"
    key = load_private_key(key_path)
    out: Path = args.out
    if out.is_dir():
        out = out / f"evsite-{args.version}-{args.board}.bundle"
    manifest = build_bundle(
        out,
        key,
        compatible=args.board,
        version=args.version,
        min_version=args.min_version,
        build=build,
        payloads=_payloads(args.payload),
        revoked_keys=args.revoke,
    )
    print(
        f"{out}: {manifest.version} for {manifest.compatible} ({build}), "
        f"signed by {key_id(key.public_key())}"
    )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify a bundle against a keyring: signature, framing, every payload hash."""
    header = verify_bundle_file(args.bundle, Keyring.load(args.keyring))
    m = header.manifest
    print(
        f"OK: {args.bundle.name}: {m.product} {m.version} for {m.compatible} ({m.build}), "
        f"min_version {m.min_version}, signed by {header.key_id}"
    )
    for p in m.payloads:
        print(f"  {p.name}: {p.size} bytes sha256 {p.sha256}")
    if m.revoked_keys:
        print(f"  revokes: {', '.join(m.revoked_keys)}")
    return 0


def cmd_keyid(args: argparse.Namespace) -> int:
    """Print the key id of a public or private key file."""
    print(key_id(load_public_key(args.key)))
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser."""
    p = argparse.ArgumentParser(prog="evsite-sign", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    keygen = sub.add_parser("keygen", help=cmd_keygen.__doc__)
    keygen.add_argument("--out", type=Path, required=True, help="directory for the key pair")
    keygen.set_defaults(func=cmd_keygen)
    sign = sub.add_parser("sign", help=cmd_sign.__doc__)
    sign.add_argument("--key", type=Path, help="private key (default: the development key)")
    sign.add_argument("--payload", action="append", required=True, metavar="NAME=FILE")
    sign.add_argument("--version", required=True)
    sign.add_argument("--min-version", required=True)
    sign.add_argument("--board", required=True, help="e.g. cm4 or qemu-arm64")
    sign.add_argument("--build", choices=("development", "release"))
    sign.add_argument(
        "--revoke",
        action="append",
        default=[],
        metavar="KEYID",
        help="key id to revoke once this update is committed",
    )
    sign.add_argument("--out", type=Path, required=True, help="bundle file or directory")
    sign.set_defaults(func=cmd_sign)
    verify = sub.add_parser("verify", help=cmd_verify.__doc__)
    verify.add_argument("--keyring", type=Path, required=True)
    verify.add_argument("bundle", type=Path)
    verify.set_defaults(func=cmd_verify)
    keyid = sub.add_parser("keyid", help=cmd_keyid.__doc__)
    keyid.add_argument("key", type=Path)
    keyid.set_defaults(func=cmd_keyid)
    return p


def main(argv: list[str]) -> int:
    """Run one command; errors become a message and exit status 1."""
    args = parser().parse_args(argv)
    try:
        result: int = args.func(args)
        return result
    except UpdateError as exc:
        print(f"evsite-sign: {exc.reason.value}: {exc.message}", file=sys.stderr)
    except (SigningKeyError, KeyringError) as exc:
        print(f"evsite-sign: {exc}", file=sys.stderr)
    except OSError as exc:
        print(f"evsite-sign: {exc}", file=sys.stderr)
    return 1
