"""Signing keys: Ed25519, private half encrypted at rest (PKCS#8), never inside a repository.

A release key is made with `keygen` and kept offline. When no key is given,
a development key is made (once) outside the repository, by default in
~/.config/evsite/dev-signing/ (EVSITE_DEV_SIGNING_DIR overrides); bundles it
signs are marked `development`, and release devices do not trust it. The
development key is the one key stored without a passphrase (mode 0600), so
that `make bundle` runs unattended.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

PASSPHRASE_ENV = "EVSITE_SIGNING_PASSPHRASE"  # noqa: S105 (a variable name)
DEV_DIR_ENV = "EVSITE_DEV_SIGNING_DIR"
PRIVATE_NAME = "signing.key"
PUBLIC_NAME = "signing.pub"


class SigningKeyError(Exception):
    """A key cannot be made or used; the message says why."""


def dev_key_dir() -> Path:
    """Where the development key lives."""
    override = os.environ.get(DEV_DIR_ENV)
    return Path(override) if override else Path.home() / ".config/evsite/dev-signing"


def inside_repository(path: Path) -> Path | None:
    """The enclosing git work tree of `path`, if any (private keys must stay out of it)."""
    for parent in [path.resolve(), *path.resolve().parents]:
        if (parent / ".git").exists():
            return parent
    return None


def read_passphrase(confirm: bool) -> bytes:
    """The passphrase from $EVSITE_SIGNING_PASSPHRASE, or asked for on the terminal."""
    value = os.environ.get(PASSPHRASE_ENV)
    if value is None:
        value = getpass.getpass("signing key passphrase: ")
        if confirm and getpass.getpass("again: ") != value:
            raise SigningKeyError("the passphrases differ")
    if confirm and len(value) < 12:
        raise SigningKeyError("the passphrase must have at least 12 characters")
    return value.encode()


def public_pem(key: Ed25519PublicKey) -> bytes:
    """A public key as SubjectPublicKeyInfo PEM (the device keyring's format)."""
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def write_key_pair(out_dir: Path, key: Ed25519PrivateKey, passphrase: bytes | None) -> Path:
    """Write signing.key (encrypted unless passphrase is None) and signing.pub; refuse to
    overwrite or to write inside a repository."""
    repo = inside_repository(out_dir)
    if repo is not None:
        raise SigningKeyError(
            f"{out_dir} is inside the repository {repo}; keep private keys out of it"
        )
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    private = out_dir / PRIVATE_NAME
    if private.exists():
        raise SigningKeyError(f"{private} exists; not overwriting a key")
    encryption = BestAvailableEncryption(passphrase) if passphrase else NoEncryption()
    _write_private(private, key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, encryption))
    (out_dir / PUBLIC_NAME).write_bytes(public_pem(key.public_key()))
    return private


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Load a private key, asking for the passphrase when it is encrypted."""
    data = path.read_bytes()
    password = read_passphrase(confirm=False) if b"ENCRYPTED" in data else None
    try:
        key = load_pem_private_key(data, password=password)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(
            f"{path}: cannot load the private key (wrong passphrase?): {exc}"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A public key from a .pub PEM file, or derived from a private key file."""
    data = path.read_bytes()
    if b"PRIVATE KEY" in data:
        return load_private_key(path).public_key()
    key = load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{path}: not an Ed25519 public key")
    return key


def ensure_dev_key() -> Path:
    """The development private key, made on first use."""
    directory = dev_key_dir()
    private = directory / PRIVATE_NAME
    if not private.exists():
        write_key_pair(directory, Ed25519PrivateKey.generate(), None)
    return private
