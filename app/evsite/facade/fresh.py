"""A value that is rebuilt at most once per short interval and shared by the callers between."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from evsite.clock import Clock

T = TypeVar("T")


class Fresh(Generic[T]):
    """The last value built, while it is at most max_age_s old; thread-safe.

    Many web requests asking for the same live view within a fraction of a
    second share one build instead of each costing the event loop its own.
    """

    def __init__(self, clock: Clock, max_age_s: float) -> None:
        self.max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._value: tuple[float, object, T] | None = None
        self._generation = object()

    def get(self, build: Callable[[], T]) -> T:
        """The shared value, built now if there is none young enough (an error is not kept)."""
        # Held while building: callers arriving meanwhile wait for this build, not a new one.
        with self._lock:
            kept = self._value
            if (
                kept is not None
                and kept[1] is self._generation
                and self._clock.monotonic() - kept[0] <= self.max_age_s
            ):
                return kept[2]
            generation, started = self._generation, self._clock.monotonic()
            value = build()
            self._value = (started, generation, value)
            return value

    def clear(self) -> None:
        """Forget the value, and any build under way: the next get builds anew.

        Takes no lock (one assignment), so the event loop may call it even while a
        build in a web thread holds the lock waiting for that loop.
        """
        self._generation = object()
