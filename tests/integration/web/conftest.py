"""A real HTTPS server on 127.0.0.1 (port 0) with the fake facade, and a client trusting it."""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest

from evsite.web.sessions import COOKIE_NAME
from tests.unit.web.support import Reply, Site, make_site


@dataclass
class HttpsClient:
    """http.client over TLS, trusting the device certificate, keeping the session cookie."""

    port: int
    cafile: Path
    cookie: str = ""
    timeout_s: float = 10.0

    @property
    def origin(self) -> str:
        """The server's origin as a browser names it."""
        return f"https://127.0.0.1:{self.port}"

    def context(self) -> ssl.SSLContext:
        """A client context that trusts only the device's certificate."""
        return ssl.create_default_context(cafile=str(self.cafile))

    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Reply:
        """One request on a fresh connection."""
        conn = http.client.HTTPSConnection(
            "127.0.0.1", self.port, context=self.context(), timeout=self.timeout_s
        )
        all_headers = dict(headers or {})
        if self.cookie:
            all_headers["Cookie"] = f"{COOKIE_NAME}={self.cookie}"
        try:
            conn.request(method, path, body=body or None, headers=all_headers)
            resp = conn.getresponse()
            reply = Reply(resp.status, list(resp.getheaders()), resp.read())
        finally:
            conn.close()
        for value in reply.headers_named("Set-Cookie"):
            name, _, rest = value.partition("=")
            if name == COOKIE_NAME:
                self.cookie = rest.split(";", 1)[0]
        return reply

    def get(self, path: str) -> Reply:
        """GET."""
        return self.request("GET", path)

    def post(self, path: str, fields: dict[str, str], origin: str | None = "") -> Reply:
        """POST a form with this server's Origin (or the one given; None for none)."""
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if origin is not None:
            headers["Origin"] = origin or self.origin
        return self.request("POST", path, urlencode(fields).encode(), headers)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Site]:
    """A started web server over a fake site."""
    site = make_site(tmp_path, max_body_bytes=128 * 1024)
    site.web.start()
    yield site
    site.web.stop()
    site.db.close()


@pytest.fixture
def https(served: Site) -> HttpsClient:
    """A client for the served site."""
    return HttpsClient(served.web.https.port, served.web.context.certificate.cert_path)
