"""The bundle file: framing, header verification, and building (for the signing tools).

Layout (all integers unsigned 32-bit big-endian), with no paths anywhere::

    magic  b"EVSBNDL\\x01"           8 bytes
    manifest length                  4 bytes (1..MAX_MANIFEST_BYTES)
    manifest                         UTF-8 JSON, signed byte for byte
    signature block length           4 bytes (always 72)
    signature block                  key id (8) + Ed25519 signature (64)
    payloads                         concatenated, in manifest order, nothing after

The header is read and its signature checked before any payload byte is
looked at, so a bad bundle is refused before anything is written.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evsite.update.errors import BundleRejected, Reason
from evsite.update.keyring import Keyring
from evsite.update.manifest import (
    MAX_MANIFEST_BYTES,
    BuildKind,
    Manifest,
    PayloadInfo,
    parse_manifest,
)
from evsite.update.signature import SIGNATURE_BLOCK_BYTES, parse_signature_block, sign_manifest

MAGIC = b"EVSBNDL\x01"
CHUNK_BYTES = 4 * 1024 * 1024
_U32 = struct.Struct(">I")


@dataclass(frozen=True)
class VerifiedHeader:
    """A bundle header whose signature checked out: the manifest, signer, payload offset."""

    manifest: Manifest
    manifest_bytes: bytes
    key_id: str
    payload_offset: int

    @property
    def expected_length(self) -> int:
        """The exact length the whole bundle must have."""
        return self.payload_offset + self.manifest.total_size


def _read_exact(stream: BinaryIO, count: int, what: str) -> bytes:
    data = stream.read(count)
    if len(data) != count:
        raise BundleRejected(Reason.TRUNCATED, f"bundle ends inside the {what}")
    return data


def read_verified_header(
    stream: BinaryIO, keyring: Keyring, revoked: Collection[str] = ()
) -> VerifiedHeader:
    """Read the header from the stream's start; check framing, signature, then manifest."""
    if _read_exact(stream, len(MAGIC), "magic") != MAGIC:
        raise BundleRejected(Reason.BAD_MAGIC, "not an evsite bundle (wrong magic)")
    (manifest_len,) = _U32.unpack(_read_exact(stream, 4, "manifest length"))
    if manifest_len == 0 or manifest_len > MAX_MANIFEST_BYTES:
        raise BundleRejected(
            Reason.MANIFEST_TOO_LARGE if manifest_len else Reason.TRUNCATED,
            f"manifest length {manifest_len} is outside 1..{MAX_MANIFEST_BYTES}",
        )
    manifest_bytes = _read_exact(stream, manifest_len, "manifest")
    (sig_len,) = _U32.unpack(_read_exact(stream, 4, "signature length"))
    if sig_len != SIGNATURE_BLOCK_BYTES:
        raise BundleRejected(
            Reason.MALFORMED_SIGNATURE,
            f"signature block length {sig_len}, expected {SIGNATURE_BLOCK_BYTES}",
        )
    block = parse_signature_block(_read_exact(stream, sig_len, "signature block"))
    # Signature first: nothing of the manifest is trusted (or even parsed) before it checks out.
    signer = keyring.verify(manifest_bytes, block, revoked)
    manifest = parse_manifest(manifest_bytes)
    offset = len(MAGIC) + 4 + manifest_len + 4 + sig_len
    return VerifiedHeader(manifest, manifest_bytes, signer, offset)


def check_length(header: VerifiedHeader, actual_length: int) -> None:
    """Refuse a bundle shorter or longer than its manifest says."""
    expected = header.expected_length
    if actual_length < expected:
        raise BundleRejected(
            Reason.TRUNCATED, f"bundle is {actual_length} bytes, its manifest needs {expected}"
        )
    if actual_length > expected:
        raise BundleRejected(
            Reason.TRAILING_DATA,
            f"bundle has {actual_length - expected} bytes after its last payload",
        )


def verify_bundle_file(
    path: Path, keyring: Keyring, revoked: Collection[str] = ()
) -> VerifiedHeader:
    """Verify a whole bundle file: header, length and every payload hash; write nothing."""
    with open(path, "rb") as stream:
        header = read_verified_header(stream, keyring, revoked)
        check_length(header, os.fstat(stream.fileno()).st_size)
        for payload in header.manifest.payloads:
            digest = hashlib.sha256()
            left = payload.size
            while left:
                chunk = stream.read(min(CHUNK_BYTES, left))
                if not chunk:
                    raise BundleRejected(Reason.TRUNCATED, f"payload {payload.name} is cut short")
                digest.update(chunk)
                left -= len(chunk)
            if digest.hexdigest() != payload.sha256:
                raise BundleRejected(
                    Reason.PAYLOAD_HASH_MISMATCH,
                    f"payload {payload.name} does not match its SHA-256",
                )
    return header


def hash_file(path: Path) -> tuple[int, str]:
    """Size and SHA-256 (hex) of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def frame(manifest_bytes: bytes, signature_block: bytes) -> bytes:
    """The header bytes for a manifest and signature block (no checks; tests use it too)."""
    return (
        MAGIC
        + _U32.pack(len(manifest_bytes))
        + manifest_bytes
        + _U32.pack(len(signature_block))
        + signature_block
    )


def build_bundle(
    out: Path,
    private_key: Ed25519PrivateKey,
    *,
    compatible: str,
    version: str,
    min_version: str,
    build: BuildKind,
    payloads: Sequence[tuple[str, Path]],
    revoked_keys: Sequence[str] = (),
) -> Manifest:
    """Write a signed bundle to `out` (atomically) from payload files; return its manifest."""
    infos = []
    for name, path in payloads:
        size, hexdigest = hash_file(path)
        infos.append(PayloadInfo(name, size, hexdigest))
    manifest = Manifest(
        compatible=compatible,
        version=version,
        min_version=min_version,
        build=build,
        payloads=tuple(infos),
        revoked_keys=tuple(revoked_keys),
    )
    manifest_bytes = manifest.to_bytes()
    block = sign_manifest(private_key, manifest_bytes).to_bytes()
    tmp = out.with_name(out.name + ".part")
    with open(tmp, "wb") as f:
        f.write(frame(manifest_bytes, block))
        for info, (_, path) in zip(infos, payloads, strict=True):
            digest = hashlib.sha256()
            with open(path, "rb") as src:
                while chunk := src.read(CHUNK_BYTES):
                    digest.update(chunk)
                    f.write(chunk)
            if digest.hexdigest() != info.sha256:
                raise OSError(f"{path} changed while the bundle was being written")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out)
    return manifest
