"""Run work on the event loop from a web worker thread and wait for its answer."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar

from evsite.web.facade import FacadeError

T = TypeVar("T")


class LoopBridge:
    """Schedules coroutines onto the one loop that owns live state."""

    def __init__(self, timeout_s: float = 5.0) -> None:
        self.timeout_s = timeout_s
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Use this loop from now on (called on it, at start)."""
        self._loop = loop

    def unbind(self) -> None:
        """Refuse further calls (the controller is stopping)."""
        self._loop = None

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float | None = None) -> T:
        """Run coro on the loop; its result, its exception, or FacadeError when it cannot run."""
        loop = self._loop
        if loop is None or loop.is_closed():
            coro.close()
            raise FacadeError("the controller is not running")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            coro.close()
            # Waiting here for the loop we are running on could never end.
            raise RuntimeError("the facade is for other threads, not the event loop itself")
        try:
            future = asyncio.run_coroutine_threadsafe(coro, loop)
        except RuntimeError:
            coro.close()
            raise FacadeError("the controller is not running") from None
        try:
            return future.result(self.timeout_s if timeout_s is None else timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise FacadeError("the controller did not answer in time; try again") from None
        except concurrent.futures.CancelledError:
            raise FacadeError("the controller is stopping") from None
