"""Load for the OCPP benchmark: many stations over WSS, measuring round trips."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import ssl
import time
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect

BOOT = '{"chargePointVendor":"Bench","chargePointModel":"B1"}'


def meter_values(n: int) -> str:
    """A typical MeterValues payload: three currents, power, energy."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    sampled = [
        {"value": "16.0", "measurand": "Current.Import", "phase": p, "unit": "A"}
        for p in ("L1", "L2", "L3")
    ]
    sampled += [
        {"value": "11040", "measurand": "Power.Active.Import", "unit": "W"},
        {"value": str(1000 + n), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
    ]
    return json.dumps(
        {"connectorId": 1, "meterValue": [{"timestamp": stamp, "sampledValue": sampled}]}
    )


@dataclass
class Station:
    """One load-generating station."""

    station_id: str
    ws: ClientConnection
    counter: int = 0
    rtts: list[float] = field(default_factory=list)

    async def request(self, action: str, payload: str, record: bool = True) -> None:
        self.counter += 1
        unique_id = f"{self.station_id}-{self.counter}"
        started = time.perf_counter()
        await self.ws.send(f'[2,"{unique_id}","{action}",{payload}]')
        answer = await self.ws.recv()
        elapsed = time.perf_counter() - started
        if not isinstance(answer, str) or not answer.startswith(f'[3,"{unique_id}"'):
            raise RuntimeError(f"{self.station_id}: unexpected answer {answer!r:.200}")
        if record:
            self.rtts.append(elapsed)


async def open_stations(
    url: str, tls: ssl.SSLContext, ids: list[str], key: str, concurrency: int = 50
) -> list[Station]:
    """Connect and boot every station, a bounded number at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def one(station_id: str) -> Station:
        token = base64.b64encode(f"{station_id}:{key}".encode()).decode()
        async with gate:
            ws = await connect(
                f"{url}/{station_id}",
                ssl=tls,
                subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                additional_headers={"Authorization": f"Basic {token}"},
                compression=None,
                open_timeout=60,
                ping_interval=None,
                max_queue=4,
            )
            station = Station(station_id, ws)
            await station.request("BootNotification", BOOT, record=False)
            await station.request(
                "StatusNotification",
                '{"connectorId":1,"errorCode":"NoError","status":"Charging"}',
                record=False,
            )
            return station

    return list(await asyncio.gather(*(one(i) for i in ids)))


async def steady_load(stations: list[Station], seconds: float, interval: float = 10.0) -> int:
    """Each station sends MeterValues every interval (random phase) and a status now and then."""
    deadline = time.perf_counter() + seconds

    async def run(station: Station) -> int:
        sent = 0
        await asyncio.sleep(random.uniform(0, interval))
        while time.perf_counter() < deadline:
            await station.request("MeterValues", meter_values(sent))
            sent += 1
            if sent % 6 == 0:
                await station.request(
                    "StatusNotification",
                    '{"connectorId":1,"errorCode":"NoError","status":"SuspendedEV"}',
                )
                sent += 1
            await asyncio.sleep(interval)
        return sent

    return sum(await asyncio.gather(*(run(s) for s in stations)))


async def saturate(stations: list[Station], seconds: float) -> int:
    """Each station sends back-to-back (one outstanding request each); return the count."""
    deadline = time.perf_counter() + seconds

    async def run(station: Station) -> int:
        sent = 0
        while time.perf_counter() < deadline:
            await station.request("MeterValues", meter_values(sent), record=False)
            sent += 1
        return sent

    return sum(await asyncio.gather(*(run(s) for s in stations)))


async def close_all(stations: list[Station]) -> None:
    """Close every connection."""
    await asyncio.gather(*(s.ws.close() for s in stations), return_exceptions=True)
