"""Web latency: dashboard JSON and API against a fake site of 1,000 stations and 100,000
sessions, beside a bare bottle/cheroot "hello" endpoint served the same way (TLS, keep-alive)."""

from __future__ import annotations

import http.client
import ssl
import statistics
import tempfile
import time
from pathlib import Path

from bottle import Bottle

from evsite.web.roles import Role
from evsite.web.server import WebServer
from evsite.web.sessions import COOKIE_NAME
from tests.unit.web.support import make_site

REQUESTS = 300


def _timings(port: int, cafile: Path, path: str, headers: dict[str, str]) -> list[float]:
    ctx = ssl.create_default_context(cafile=str(cafile))
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
    out = []
    for n in range(REQUESTS + 10):
        started = time.perf_counter()
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{path}: HTTP {resp.status}")
        if n >= 10:  # the first few warm caches and the connection
            out.append((time.perf_counter() - started) * 1000)
    conn.close()
    return out


def _report(name: str, ms: list[float]) -> None:
    ms = sorted(ms)
    p99 = ms[int(len(ms) * 0.99) - 1]
    print(f"{name:<38} median {statistics.median(ms):8.2f} ms   p99 {p99:8.2f} ms")


def main() -> None:
    """Print median and p99 per endpoint (numbers only, no pass/fail)."""
    with tempfile.TemporaryDirectory() as tmp:
        site = make_site(Path(tmp), stations=1000, sessions=100_000)
        ctx = site.web.context
        user = ctx.accounts.add("bench", Role.VIEWER, "Quiet-Harbour-Lantern-7")
        ctx.first_access.mark_done()
        cookie, _ = ctx.sessions.create(user.user_id, "bench")
        token, _ = ctx.tokens.create("bench", "read", "bench")
        hello = Bottle()
        hello.route("/hello", "GET", lambda: "hello")
        bare = WebServer(
            hello,
            "127.0.0.1",
            0,
            site.web.tls_context,
            cert_path=ctx.certificate.cert_path,
            key_path=ctx.certificate.key_path,
        )
        site.web.start()
        bare.start()
        try:
            cafile = ctx.certificate.cert_path
            port = site.web.https.port
            ui = {"Cookie": f"{COOKIE_NAME}={cookie}"}
            api = {"Authorization": f"Bearer {token}"}
            print(f"{REQUESTS} sequential requests each, one keep-alive TLS connection")
            _report("baseline bottle/cheroot /hello", _timings(bare.port, cafile, "/hello", {}))
            _report(
                "dashboard /ui/site/live.json", _timings(port, cafile, "/ui/site/live.json", ui)
            )
            _report("api /api/v1/site", _timings(port, cafile, "/api/v1/site", api))
            _report("api /api/v1/stations", _timings(port, cafile, "/api/v1/stations", api))
            _report(
                "api /api/v1/sessions?limit=100",
                _timings(port, cafile, "/api/v1/sessions?limit=100", api),
            )
            _report(
                "api /api/v1/sessions?station=CP0500",
                _timings(port, cafile, "/api/v1/sessions?station=CP0500&limit=100", api),
            )
        finally:
            bare.stop()
            site.web.stop()
            site.db.close()


if __name__ == "__main__":
    main()
