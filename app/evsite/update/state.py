"""The device's update state on the data partition: anti-rollback minimum, revoked keys,
the installed-but-uncommitted trial, and the last rejection.

One JSON file, replaced atomically (write temp, fsync, rename, fsync dir).
The minimum version and the revocation list only ever grow, and only when a
trial is committed.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from evsite.update.version import parse_version

STATE_FILENAME = "state.json"


@dataclass(frozen=True)
class Pending:
    """A bundle written to a slot and set to boot once, awaiting its health check."""

    slot: str
    version: str
    min_version: str
    revoked_keys: tuple[str, ...]
    key_id: str
    installed_at: str


@dataclass(frozen=True)
class Rejection:
    """A slot that was refused or rolled back, and why."""

    slot: str
    version: str
    reason: str
    at: str


@dataclass(frozen=True)
class UpdateState:
    """Everything the update system remembers between boots."""

    min_version: str = "0"
    revoked_keys: tuple[str, ...] = ()
    versions: dict[str, str] = field(default_factory=dict)
    pending: Pending | None = None
    last_rejected: Rejection | None = None

    def committed(self, pending: Pending) -> UpdateState:
        """The state after committing `pending`: minimum raised, revocations applied."""
        minimum = max(parse_version(self.min_version), parse_version(pending.min_version))
        return replace(
            self,
            min_version=str(minimum),
            revoked_keys=tuple(sorted({*self.revoked_keys, *pending.revoked_keys})),
            versions={**self.versions, pending.slot: pending.version},
            pending=None,
        )


def _from_json(data: dict[str, Any]) -> UpdateState:
    pending = data.get("pending")
    rejected = data.get("last_rejected")
    return UpdateState(
        min_version=str(data.get("min_version", "0")),
        revoked_keys=tuple(data.get("revoked_keys", ())),
        versions={str(k): str(v) for k, v in data.get("versions", {}).items()},
        pending=Pending(**{**pending, "revoked_keys": tuple(pending["revoked_keys"])})
        if pending
        else None,
        last_rejected=Rejection(**rejected) if rejected else None,
    )


class StateStore:
    """Loads and atomically saves the UpdateState file in the state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir
        self.path = state_dir / STATE_FILENAME

    def load(self) -> UpdateState:
        """The stored state (the initial state when none was saved yet)."""
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return UpdateState()
        return _from_json(data)

    def save(self, state: UpdateState) -> None:
        """Replace the stored state; durable when this returns."""
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w") as f:
            json.dump(asdict(state), f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        dir_fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
