"""Web load for the site benchmark, run as its own process: keep-alive GETs over TLS.

Two modes. Closed loop (the default): each client sends its next request as soon as the
last one is answered, so the load takes all the CPU it can get. Open loop (`rate` set):
requests go out on a schedule fixed in advance, `rate` a second in all, endpoints in turn,
over `clients` connections; each is timed from when it was due, not from when a
connection was free to send it, so a server falling behind shows as queueing.

Reads its settings as one JSON object on stdin (port, cafile, cookie, token, seconds,
clients, optional rate), prints `STARTED` once every client's connection is open, then
after the run one JSON object: response times in ms per endpoint, how many requests were
sent (and, with a rate, how many were due) and how many failed.
"""

from __future__ import annotations

import http.client
import json
import math
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from evsite.web.sessions import COOKIE_NAME

# (name, path, credential): what a dashboard left open, an operator paging through
# stations and sessions, and an EMS polling the API ask for, at default paging.
ENDPOINTS = (
    ("dashboard /ui/site/live.json", "/ui/site/live.json", "cookie"),
    ("page /stations", "/stations", "cookie"),
    ("page /sessions", "/sessions", "cookie"),
    ("api /api/v1/sessions", "/api/v1/sessions", "token"),
    ("api /api/v1/site", "/api/v1/site", "token"),
    ("api /api/v1/stations", "/api/v1/stations", "token"),
)
# How long past the end an open-loop run may go on sending what fell due before it;
# whatever is still unsent then is left out (and shows as sent < due).
DRAIN_S = 5.0


@dataclass
class Schedule:
    """Send times fixed in advance: request n is due at start + n / rate."""

    start: float
    rate: float
    seconds: float
    taken: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def due(self) -> int:
        """How many requests fall due within the run."""
        return math.ceil(self.seconds * self.rate)

    def take(self) -> tuple[int, float] | None:
        """The next request's number and due time, or None once the run's are all taken."""
        with self.lock:
            if self.taken >= self.due:
                return None
            n = self.taken
            self.taken += 1
        return n, self.start + n / self.rate


@dataclass
class Client:
    """One keep-alive connection going round the endpoints, starting at its own offset."""

    port: int
    tls: ssl.SSLContext
    headers: dict[str, dict[str, str]]
    offset: int
    times: dict[str, list[float]] = field(default_factory=dict)
    sent: int = 0
    errors: int = 0
    samples: list[str] = field(default_factory=list)  # the first few errors, to show
    conn: http.client.HTTPSConnection | None = None

    def connect(self) -> None:
        """Open the TLS connection (the handshake is not part of any timing)."""
        self.conn = http.client.HTTPSConnection(
            "127.0.0.1", self.port, context=self.tls, timeout=30
        )
        self.conn.connect()

    def run(self, deadline: float) -> None:
        """Closed loop: back-to-back requests until the deadline."""
        n = self.offset
        while time.perf_counter() < deadline:
            self._request(n, time.perf_counter())
            n += 1

    def run_paced(self, schedule: Schedule, give_up: float) -> None:
        """Open loop: take the next due request, wait for its time if early, send it."""
        while (slot := schedule.take()) is not None:
            n, due = slot
            now = time.perf_counter()
            if now >= give_up:
                return
            if due > now:
                time.sleep(due - now)
            self._request(n, due)

    def _request(self, n: int, started: float) -> None:
        """Send request n (endpoints in turn) and time it from `started` when it succeeds."""
        name, path, credential = ENDPOINTS[n % len(ENDPOINTS)]
        self.sent += 1
        try:
            status = self._get(path, self.headers[credential])
        except (OSError, http.client.HTTPException) as exc:
            self._error(f"{path}: {exc!r}")
            self._reconnect()  # a fresh connection; the failed request is not timed
            return
        if status != 200:
            self._error(f"{path}: HTTP {status}")
            return
        self.times.setdefault(name, []).append((time.perf_counter() - started) * 1000)

    def _error(self, text: str) -> None:
        self.errors += 1
        if len(self.samples) < 5:
            self.samples.append(text)

    def _reconnect(self) -> None:
        if self.conn is not None:
            self.conn.close()
        try:
            self.connect()
        except OSError as exc:
            self._error(f"connect: {exc!r}")
            time.sleep(0.1)  # the server is gone or full: do not spin

    def _get(self, path: str, headers: dict[str, str]) -> int:
        assert self.conn is not None
        self.conn.request("GET", path, headers=headers)
        response = self.conn.getresponse()
        response.read()
        return response.status


def run(config: dict[str, Any]) -> dict[str, Any]:
    """Run the clients for the configured seconds; return their merged timings."""
    tls = ssl.create_default_context(cafile=config["cafile"])
    headers = {
        "cookie": {"Cookie": f"{COOKIE_NAME}={config['cookie']}"},
        "token": {"Authorization": f"Bearer {config['token']}"},
    }
    clients = [Client(config["port"], tls, headers, n) for n in range(config["clients"])]
    for client in clients:
        client.connect()
    print("STARTED", flush=True)
    seconds = float(config["seconds"])
    rate = float(config.get("rate") or 0)
    schedule = Schedule(time.perf_counter(), rate, seconds) if rate > 0 else None
    if schedule is not None:
        give_up = schedule.start + seconds + DRAIN_S
        threads = [threading.Thread(target=c.run_paced, args=(schedule, give_up)) for c in clients]
    else:
        deadline = time.perf_counter() + seconds
        threads = [threading.Thread(target=c.run, args=(deadline,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    times: dict[str, list[float]] = {name: [] for name, _, _ in ENDPOINTS}
    for client in clients:
        for name, values in client.times.items():
            times[name] += values
        if client.conn is not None:
            client.conn.close()
    result: dict[str, Any] = {
        "times": times,
        "sent": sum(c.sent for c in clients),
        "errors": sum(c.errors for c in clients),
        "error_samples": [e for c in clients for e in c.samples][:5],
    }
    if schedule is not None:
        result["due"] = schedule.due
    return result


def main() -> None:
    """Entry: python -m tests.bench.web_load < settings.json."""
    print(json.dumps(run(json.loads(sys.stdin.readline()))), flush=True)


if __name__ == "__main__":
    main()
