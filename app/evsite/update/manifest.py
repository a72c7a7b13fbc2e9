"""The bundle manifest: what the bundle is for and what it carries, parsed strictly.

The manifest is UTF-8 JSON, signed byte for byte. Every field is required,
every type is checked, unknown fields and duplicate keys are refused, and
every size is bounded, so a hostile manifest can neither crash the parser
nor make the installer allocate or write without limit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from evsite.update.errors import BundleRejected, Reason
from evsite.update.version import Version, is_version, parse_version

FORMAT_VERSION = 1
PRODUCT = "evsite"
MAX_MANIFEST_BYTES = 64 * 1024
# Bigger than any partition we will ever have, small enough to catch nonsense.
MAX_PAYLOAD_BYTES = 16 * 1024**3
PAYLOAD_NAMES = ("boot", "rootfs")
MAX_REVOKED_KEYS = 64
BuildKind = Literal["development", "release"]

_BOARD_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_KEY_ID_RE = re.compile(r"^[0-9a-f]{16}$")
_FIELDS = {
    "format",
    "product",
    "compatible",
    "version",
    "min_version",
    "build",
    "payloads",
    "revoked_keys",
}
_PAYLOAD_FIELDS = {"name", "size", "sha256"}


@dataclass(frozen=True)
class PayloadInfo:
    """One payload: which slot class it goes to, its size and SHA-256 (hex)."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """A parsed, type-checked manifest."""

    compatible: str
    version: str
    min_version: str
    build: BuildKind
    payloads: tuple[PayloadInfo, ...]
    revoked_keys: tuple[str, ...] = field(default=())
    product: str = PRODUCT
    format: int = FORMAT_VERSION

    @property
    def parsed_version(self) -> Version:
        """The version as a comparable Version."""
        return parse_version(self.version)

    @property
    def parsed_min_version(self) -> Version:
        """The min_version as a comparable Version."""
        return parse_version(self.min_version)

    @property
    def total_size(self) -> int:
        """The sum of the payload sizes."""
        return sum(p.size for p in self.payloads)

    def to_dict(self) -> dict[str, Any]:
        """The manifest as plain JSON-able data, in the documented field order."""
        return {
            "format": self.format,
            "product": self.product,
            "compatible": self.compatible,
            "version": self.version,
            "min_version": self.min_version,
            "build": self.build,
            "payloads": [
                {"name": p.name, "size": p.size, "sha256": p.sha256} for p in self.payloads
            ],
            "revoked_keys": list(self.revoked_keys),
        }

    def to_bytes(self) -> bytes:
        """Serialise to the exact bytes that get signed (and check them on the way)."""
        data = json.dumps(self.to_dict(), indent=1).encode()
        parse_manifest(data)
        return data


def _reject(message: str) -> BundleRejected:
    return BundleRejected(Reason.MALFORMED_MANIFEST, message)


def _no_duplicates(pairs: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _reject(f"duplicate field {key[:40]!r}")
            seen.add(key)
    return result


def _no_constants(name: str) -> Any:
    raise _reject(f"{name} is not allowed in a manifest")


def _string(obj: dict[str, Any], key: str, where: str = "manifest") -> str:
    value = obj[key]
    if not isinstance(value, str):
        raise _reject(f"{where}.{key} must be a string, not {type(value).__name__}")
    return value


def _int(obj: dict[str, Any], key: str, where: str) -> int:
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise _reject(f"{where}.{key} must be an integer, not {type(value).__name__}")
    return value


def _exact_fields(obj: object, expected: set[str], where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise _reject(f"{where} must be an object, not {type(obj).__name__}")
    unknown = sorted(set(obj) - expected)
    if unknown:
        raise _reject(f"{where} has unknown field(s) {', '.join(map(repr, unknown))}")
    missing = sorted(expected - set(obj))
    if missing:
        raise _reject(f"{where} lacks field(s) {', '.join(missing)}")
    return obj


def _payload(obj: object, index: int) -> PayloadInfo:
    where = f"payloads[{index}]"
    fields = _exact_fields(obj, _PAYLOAD_FIELDS, where)
    name = _string(fields, "name", where)
    if name not in PAYLOAD_NAMES:
        raise _reject(f"{where}.name must be one of {', '.join(PAYLOAD_NAMES)}, not {name!r}")
    size = _int(fields, "size", where)
    if not 0 < size <= MAX_PAYLOAD_BYTES:
        raise BundleRejected(
            Reason.OVERSIZED_PAYLOAD if size > 0 else Reason.MALFORMED_MANIFEST,
            f"{where}.size {size} is outside 1..{MAX_PAYLOAD_BYTES}",
        )
    digest = _string(fields, "sha256", where)
    if not _SHA256_RE.fullmatch(digest):
        raise _reject(f"{where}.sha256 must be 64 lowercase hex digits")
    return PayloadInfo(name, size, digest)


def parse_manifest(data: bytes) -> Manifest:
    """Parse and check manifest bytes; raise BundleRejected saying what is wrong."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise BundleRejected(
            Reason.MANIFEST_TOO_LARGE, f"manifest is {len(data)} bytes, limit {MAX_MANIFEST_BYTES}"
        )
    try:
        text = data.decode("utf-8")
        raw = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except UnicodeDecodeError as exc:
        raise _reject(f"manifest is not UTF-8: {exc.reason}") from None
    except RecursionError:
        raise _reject("manifest is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, or our own BundleRejected passed through
        if isinstance(exc, BundleRejected):
            raise
        raise _reject(f"manifest is not JSON: {exc}") from None
    fields = _exact_fields(raw, _FIELDS, "manifest")
    fmt = _int(fields, "format", "manifest")
    if fmt != FORMAT_VERSION:
        raise BundleRejected(
            Reason.UNSUPPORTED_FORMAT,
            f"manifest format {fmt} is not supported (only {FORMAT_VERSION})",
        )
    product = _string(fields, "product")
    compatible = _string(fields, "compatible")
    if not _BOARD_RE.fullmatch(compatible):
        raise _reject("manifest.compatible must be a board name like 'cm4' or 'qemu-arm64'")
    version = _string(fields, "version")
    min_version = _string(fields, "min_version")
    for key, value in (("version", version), ("min_version", min_version)):
        if not is_version(value):
            raise _reject(f"manifest.{key} {value[:40]!r} is not a version like 1.4.0")
    if parse_version(min_version) > parse_version(version):
        raise _reject(f"manifest.min_version {min_version} is above its version {version}")
    build = _string(fields, "build")
    if build not in ("development", "release"):
        raise _reject(f"manifest.build must be 'development' or 'release', not {build[:40]!r}")
    payload_list = fields["payloads"]
    if not isinstance(payload_list, list) or not 1 <= len(payload_list) <= len(PAYLOAD_NAMES):
        raise _reject(f"manifest.payloads must be a list of 1 to {len(PAYLOAD_NAMES)} payloads")
    payloads = tuple(_payload(p, i) for i, p in enumerate(payload_list))
    names = [p.name for p in payloads]
    if len(set(names)) != len(names):
        raise _reject("manifest.payloads names a slot class twice")
    revoked = fields["revoked_keys"]
    if not isinstance(revoked, list) or len(revoked) > MAX_REVOKED_KEYS:
        raise _reject(f"manifest.revoked_keys must be a list of at most {MAX_REVOKED_KEYS} ids")
    for key_id in revoked:
        if not isinstance(key_id, str) or not _KEY_ID_RE.fullmatch(key_id):
            raise _reject("manifest.revoked_keys entries must be 16 lowercase hex digits")
    return Manifest(
        compatible=compatible,
        version=version,
        min_version=min_version,
        build="release" if build == "release" else "development",
        payloads=payloads,
        revoked_keys=tuple(revoked),
        product=product,
        format=fmt,
    )
