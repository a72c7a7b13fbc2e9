"""Why an update was refused: one exception type carrying a stable reason code."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Stable reason codes; the web UI, the audit log and tests key on these."""

    BAD_MAGIC = "bad-magic"
    TRUNCATED = "truncated"
    TRAILING_DATA = "trailing-data"
    MANIFEST_TOO_LARGE = "manifest-too-large"
    MALFORMED_SIGNATURE = "malformed-signature"
    BAD_SIGNATURE = "bad-signature"
    UNKNOWN_KEY = "unknown-key"
    REVOKED_KEY = "revoked-key"
    MALFORMED_MANIFEST = "malformed-manifest"
    UNSUPPORTED_FORMAT = "unsupported-format"
    WRONG_PRODUCT = "wrong-product"
    WRONG_BOARD = "wrong-board"
    DEVELOPMENT_BUILD = "development-build"
    DOWNGRADE = "downgrade"
    RUNNING_TOO_OLD = "running-version-too-old"
    OVERSIZED_PAYLOAD = "oversized-payload"
    PAYLOAD_TOO_LARGE_FOR_SLOT = "payload-larger-than-slot"
    SLOT_MISMATCH = "slot-mismatch"
    PAYLOAD_HASH_MISMATCH = "payload-hash-mismatch"
    REVOKES_ALL_KEYS = "revokes-all-keys"
    TRIAL_PENDING = "trial-pending"
    BUSY = "busy"
    BOOTED_SLOT_UNKNOWN = "booted-slot-unknown"
    WRITE_FAILED = "write-failed"


class UpdateError(Exception):
    """An update operation failed for a reason a person can act on."""

    def __init__(self, reason: Reason, message: str) -> None:
        self.reason = reason
        self.message = message
        super().__init__(f"{reason.value}: {message}")


class BundleRejected(UpdateError):
    """A bundle was refused; nothing it carries has been made bootable."""
