"""The one interface for recording security events; it imports nothing, so every package may."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class AuditSink(Protocol):
    """Anything that records security events (the audit log, or a test double)."""

    def record(
        self,
        event: str,
        *,
        actor: str = "system",
        source: str = "",
        outcome: str = "ok",
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Record one security-relevant event."""
        ...
