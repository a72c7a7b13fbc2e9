"""Group commit: writes from the event loop are batched into one transaction per fsync.

A handler awaits its write; the writer thread gathers every write that queued up
while the previous commit was on its way to disk and commits them together. The
station still gets its answer only after its own data is durable, but a thousand
stations cost a few fsyncs per second instead of a thousand.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from evsite.store.db import Database

T = TypeVar("T")
MAX_BATCH = 500

_Item = tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any], asyncio.AbstractEventLoop]


class GroupCommitter:
    """A writer thread that commits queued writes in batches."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="evsite-db-writer", daemon=True)
        self._thread.start()
        self.batches = 0
        self.writes = 0

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run fn(conn) inside a committed transaction; return once it is on disk."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((fn, future, loop))
        return await future

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            try:
                results = self._db.write_batch([fn for fn, _, _ in batch])
            except BaseException as exc:  # the commit itself failed: every write failed
                results = [exc] * len(batch)
            self.batches += 1
            self.writes += len(batch)
            for (_, future, loop), result in zip(batch, results, strict=True):
                loop.call_soon_threadsafe(_settle, future, result)
            if stop:
                return

    def close(self) -> None:
        """Finish queued writes and stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout=30)


def _settle(future: asyncio.Future[Any], result: object) -> None:
    if future.done():
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)


class DirectWriter:
    """Commits each write at once on the caller's thread (CLI tools, tests)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run fn(conn) in its own committed transaction."""
        with self._db.transaction() as conn:
            return fn(conn)


Writer = GroupCommitter | DirectWriter
