"""Named event counters that a status page can show."""

from __future__ import annotations


class Counters:
    """Monotonic counters by name; unknown names start at zero."""

    def __init__(self, *names: str) -> None:
        self._values: dict[str, int] = dict.fromkeys(names, 0)

    def inc(self, name: str, amount: int = 1) -> None:
        """Add to a counter."""
        self._values[name] = self._values.get(name, 0) + amount

    def __getitem__(self, name: str) -> int:
        return self._values.get(name, 0)

    def snapshot(self) -> dict[str, int]:
        """A copy of every counter."""
        return dict(self._values)
