"""Telling systemd how the app is doing: ready, stopping, and alive (its watchdog).

The unit runs with `Type=notify` and `WatchdogSec=`: systemd counts the app started
only once it says READY=1, and kills and restarts it when the WATCHDOG=1 messages
stop. They are sent from the event loop itself, so a loop that hangs stops them: a
hung version is restarted, and one that keeps hanging reboots the device and rolls
back like one that crashes. Outside systemd (no NOTIFY_SOCKET) all of this does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket

log = logging.getLogger("evsite")


def notify(state: str) -> bool:
    """Send one sd_notify message ("READY=1", ...); False when not run by systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(state.encode(), address)
    except OSError as exc:
        log.warning("cannot tell systemd %r: %s", state, exc)
        return False
    return True


def watchdog_interval() -> float | None:
    """Seconds between WATCHDOG=1 messages (half systemd's timeout), or None without one."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        timeout_s = int(usec) / 1_000_000
    except ValueError:
        return None
    return timeout_s / 2 if timeout_s > 0 else None


async def keep_alive(interval_s: float) -> None:
    """Say WATCHDOG=1 every interval, from the loop, until cancelled."""
    while True:
        notify("WATCHDOG=1")
        await asyncio.sleep(interval_s)


def start_keep_alive() -> asyncio.Task[None] | None:
    """Start the watchdog messages if systemd asked for them."""
    interval = watchdog_interval()
    if interval is None:
        return None
    return asyncio.create_task(keep_alive(interval), name="systemd-watchdog")


async def stop_keep_alive(task: asyncio.Task[None] | None) -> None:
    """Stop the watchdog messages."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
