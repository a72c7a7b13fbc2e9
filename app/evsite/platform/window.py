"""The setup window: opened by a short press of the reset button, closed by the clock."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from evsite.clock import Clock


class SetupWindow:
    """While open, the first admin may be created without the setup secret."""

    def __init__(self, clock: Clock, seconds: float) -> None:
        self._clock = clock
        self.seconds = seconds
        self._lock = threading.Lock()
        self._until: datetime | None = None

    def open(self) -> datetime:
        """Open (or extend) the window from now; return when it closes."""
        with self._lock:
            self._until = self._clock.now() + timedelta(seconds=self.seconds)
            return self._until

    def is_open(self) -> bool:
        """True until the window's time is up."""
        with self._lock:
            until = self._until
        return until is not None and self._clock.now() < until
