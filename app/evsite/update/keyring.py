"""The device's trusted public keys: a directory of `*.pub` PEM files, or one PEM file.

Rotation works by holding several keys; a key whose id is on the revocation
list (which only grows, see `state`) no longer verifies anything.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from evsite.update.errors import BundleRejected, Reason
from evsite.update.signature import SignatureBlock, key_id

_PEM_BLOCK_RE = re.compile(
    rb"-----BEGIN PUBLIC KEY-----\r?\n.+?-----END PUBLIC KEY-----", re.DOTALL
)


class KeyringError(ValueError):
    """The keyring on disk is unusable (missing, empty, or holds a non-Ed25519 key)."""


class Keyring:
    """A set of trusted Ed25519 public keys, by key id."""

    def __init__(self, keys: Iterable[Ed25519PublicKey]) -> None:
        self._keys = {key_id(k): k for k in keys}

    @classmethod
    def load(cls, path: Path) -> Keyring:
        """Load every public key in a directory (`*.pub`) or in a single PEM file."""
        files = sorted(path.glob("*.pub")) if path.is_dir() else [path]
        keys: list[Ed25519PublicKey] = []
        for file in files:
            try:
                data = file.read_bytes()
            except OSError as exc:
                raise KeyringError(f"{file}: cannot read: {exc.strerror}") from None
            blocks = _PEM_BLOCK_RE.findall(data)
            if not blocks:
                raise KeyringError(f"{file}: no PEM public key in it")
            for block in blocks:
                try:
                    key = load_pem_public_key(block)
                except ValueError as exc:
                    raise KeyringError(f"{file}: unreadable public key: {exc}") from None
                if not isinstance(key, Ed25519PublicKey):
                    raise KeyringError(f"{file}: holds a {type(key).__name__}, not Ed25519")
                keys.append(key)
        if not keys:
            raise KeyringError(f"{path}: no public keys (*.pub) found")
        return cls(keys)

    def key_ids(self) -> list[str]:
        """The ids of all keys held, sorted."""
        return sorted(self._keys)

    def usable_ids(self, revoked: Collection[str]) -> list[str]:
        """The ids of the keys not revoked."""
        return [k for k in self.key_ids() if k not in revoked]

    def verify(
        self, manifest_bytes: bytes, block: SignatureBlock, revoked: Collection[str] = ()
    ) -> str:
        """Check the signature over manifest_bytes; return the signer's key id or raise."""
        key = self._keys.get(block.key_id)
        if key is None:
            raise BundleRejected(
                Reason.UNKNOWN_KEY,
                f"signed with key {block.key_id}, which this device does not trust",
            )
        if block.key_id in revoked:
            raise BundleRejected(Reason.REVOKED_KEY, f"signed with revoked key {block.key_id}")
        try:
            key.verify(block.signature, manifest_bytes)
        except InvalidSignature:
            raise BundleRejected(
                Reason.BAD_SIGNATURE,
                f"signature by key {block.key_id} does not match the manifest",
            ) from None
        return block.key_id
