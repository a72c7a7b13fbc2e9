"""Polls meters on a fixed period and hands good samples and failures to callbacks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from evsite.modbus.meter import Meter, MeterReadError, MeterSample


class MeterPoller:
    """Reads every meter once per period; meters on different buses are read concurrently."""

    def __init__(
        self,
        meters: Sequence[Meter],
        *,
        interval_s: float,
        on_sample: Callable[[MeterSample], None],
        on_error: Callable[[MeterReadError], None] | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.meters = list(meters)
        self.interval_s = interval_s
        self._on_sample = on_sample
        self._on_error = on_error
        self.rounds = 0

    async def _one(self, meter: Meter) -> None:
        try:
            sample = await meter.read()
        except MeterReadError as exc:
            if self._on_error is not None:
                self._on_error(exc)
            return
        self._on_sample(sample)

    async def poll_once(self) -> None:
        """Read each meter once (the bus object serializes meters that share a line)."""
        await asyncio.gather(*(self._one(m) for m in self.meters))
        self.rounds += 1

    async def run(self) -> None:
        """Poll until cancelled; the period is kept steady, not added after each round."""
        while True:
            started = time.monotonic()
            await self.poll_once()
            await asyncio.sleep(max(0.0, self.interval_s - (time.monotonic() - started)))
