"""Web load for the site benchmark, run as its own process: back-to-back keep-alive GETs.

Reads its settings as one JSON object on stdin (port, cafile, cookie, token, seconds,
clients), prints `STARTED` once every client's connection is open, then after the run
one JSON object: response times in ms per endpoint, and how many requests failed.
"""

from __future__ import annotations

import http.client
import json
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


@dataclass
class Client:
    """One keep-alive connection going round the endpoints, starting at its own offset."""

    port: int
    tls: ssl.SSLContext
    headers: dict[str, dict[str, str]]
    offset: int
    times: dict[str, list[float]] = field(default_factory=dict)
    errors: int = 0
    samples: list[str] = field(default_factory=list)  # the first few errors, to show
    conn: http.client.HTTPSConnection | None = None

    def connect(self) -> None:
        self.conn = http.client.HTTPSConnection(
            "127.0.0.1", self.port, context=self.tls, timeout=30
        )
        self.conn.connect()

    def run(self, deadline: float) -> None:
        n = self.offset
        while time.perf_counter() < deadline:
            name, path, credential = ENDPOINTS[n % len(ENDPOINTS)]
            n += 1
            started = time.perf_counter()
            try:
                status = self._get(path, self.headers[credential])
            except (OSError, http.client.HTTPException) as exc:
                self._error(f"{path}: {exc!r}")
                self._reconnect()  # a fresh connection; the failed request is not timed
                continue
            if status != 200:
                self._error(f"{path}: HTTP {status}")
                continue
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
    deadline = time.perf_counter() + config["seconds"]
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
    return {
        "times": times,
        "errors": sum(c.errors for c in clients),
        "error_samples": [e for c in clients for e in c.samples][:5],
    }


def main() -> None:
    """Entry: python -m tests.bench.web_load < settings.json."""
    print(json.dumps(run(json.loads(sys.stdin.readline()))), flush=True)


if __name__ == "__main__":
    main()
