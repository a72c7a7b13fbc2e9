"""The live site's JSON bodies, encoded once per snapshot and reused while it is the same.

The real facade shares one site snapshot between the requests of the same
moment; with a thousand stations each body is a quarter of a megabyte, and
encoding it again for every poll would cost more than all else in the request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from evsite.web.facade import SiteSnapshot


class EncodedOnce:
    """The last body encoded, kept for as long as the same snapshot object comes back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: tuple[SiteSnapshot, object, str] | None = None

    def body(self, snap: SiteSnapshot, extra: object, encode: Callable[[], str]) -> str:
        """encode()'s result for this snapshot (by identity) and this extra value (by equality)."""
        with self._lock:
            last = self._last
        # Identity, not equality: comparing a thousand stations would cost as much as encoding.
        if last is not None and last[0] is snap and last[1] == extra:
            return last[2]
        text = encode()
        with self._lock:
            self._last = (snap, extra, text)
        return text
