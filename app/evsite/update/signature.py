"""The manifest signature: Ed25519 over the exact manifest bytes, tagged with a key id.

The signature block is 72 bytes: the signer's key id (8 raw bytes, shown as
16 hex digits: the start of SHA-256 over the raw 32-byte public key) followed
by the 64-byte Ed25519 signature.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from evsite.update.errors import BundleRejected, Reason

KEY_ID_BYTES = 8
SIGNATURE_BYTES = 64
SIGNATURE_BLOCK_BYTES = KEY_ID_BYTES + SIGNATURE_BYTES


def raw_public_bytes(key: Ed25519PublicKey) -> bytes:
    """The 32-byte raw encoding of a public key."""
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """The key id: first 16 hex digits of SHA-256 over the raw public key."""
    return hashlib.sha256(raw_public_bytes(key)).hexdigest()[: 2 * KEY_ID_BYTES]


@dataclass(frozen=True)
class SignatureBlock:
    """A parsed signature block: who signed, and the signature."""

    key_id: str
    signature: bytes

    def to_bytes(self) -> bytes:
        """The 72-byte wire form."""
        return bytes.fromhex(self.key_id) + self.signature


def sign_manifest(private_key: Ed25519PrivateKey, manifest_bytes: bytes) -> SignatureBlock:
    """Sign manifest bytes with a private key (used by the signing tools only)."""
    return SignatureBlock(key_id(private_key.public_key()), private_key.sign(manifest_bytes))


def parse_signature_block(data: bytes) -> SignatureBlock:
    """Split a signature block; refuse any other length."""
    if len(data) != SIGNATURE_BLOCK_BYTES:
        raise BundleRejected(
            Reason.MALFORMED_SIGNATURE,
            f"signature block is {len(data)} bytes, expected {SIGNATURE_BLOCK_BYTES}",
        )
    return SignatureBlock(data[:KEY_ID_BYTES].hex(), data[KEY_ID_BYTES:])
