"""Software versions: dotted non-negative integers, compared numerically."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

_VERSION_RE = re.compile(r"^(0|[1-9][0-9]{0,5})(\.(0|[1-9][0-9]{0,5})){0,3}$")


@total_ordering
@dataclass(frozen=True)
class Version:
    """A version such as 1.4.0; 1.4 equals 1.4.0 (missing parts count as zero)."""

    parts: tuple[int, ...]

    def _key(self) -> tuple[int, ...]:
        return self.parts + (0,) * (4 - len(self.parts))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __lt__(self, other: Version) -> bool:
        return self._key() < other._key()

    def __str__(self) -> str:
        return ".".join(str(p) for p in self.parts)


def is_version(text: str) -> bool:
    """True when text is a well-formed version (1 to 4 parts, no leading zeros)."""
    return bool(_VERSION_RE.fullmatch(text))


def parse_version(text: str) -> Version:
    """Parse '1.4.0'; raise ValueError naming the text when it is not a version."""
    if not is_version(text):
        raise ValueError(f"not a version (1 to 4 dot-separated numbers): {text!r}")
    return Version(tuple(int(p) for p in text.split(".")))
