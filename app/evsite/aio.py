"""Small asyncio helpers that keep cancellation intact."""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait for an event up to timeout seconds; True if it was set.

    asyncio.timeout() rather than wait_for(): on Python 3.11, wait_for() can turn a
    cancellation that coincides with its timeout into a TimeoutError, and a loop
    that suppresses TimeoutError then never stops.
    """
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True
