"""Test support for the web layer: build it on a temp data dir, drive its WSGI app."""

from __future__ import annotations

import io
import re
import sys
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from evsite.clock import FakeClock
from evsite.store.db import Database, open_database
from evsite.web.fake_facade import FakeFacade
from evsite.web.passwords import TEST_HASH_PARAMS
from evsite.web.schema import WEB_MIGRATIONS
from evsite.web.service import WebService, build_web
from evsite.web.sessions import COOKIE_NAME
from evsite.web.settings import WebSettings

ADMIN = "admin"
PASSWORD = "Quiet-Harbour-Lantern-7"
HOST = "evsite.local"
ORIGIN = f"https://{HOST}"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Site:
    """A web layer over a fake site, for one test."""

    web: WebService
    facade: FakeFacade
    clock: FakeClock
    db: Database
    data_dir: Path

    @property
    def secret(self) -> str:
        """The setup secret (while setup is pending)."""
        assert self.web.setup_secret is not None
        return self.web.setup_secret


def make_site(data_dir: Path, *, stations: int = 3, sessions: int = 20, **settings: Any) -> Site:
    """Build the web layer with a fake facade, cheap password hashing and port 0."""
    clock = FakeClock()
    db = open_database(data_dir, extra={"web": WEB_MIGRATIONS})
    facade = FakeFacade(clock, stations=stations, sessions=sessions)
    values: dict[str, Any] = {"host": "127.0.0.1", "port": 0, "redirect_port": 0, **settings}
    web = build_web(
        db=db,
        clock=clock,
        facade=facade,
        settings=WebSettings(**values),
        data_dir=data_dir,
        hash_params=TEST_HASH_PARAMS,
    )
    return Site(web, facade, clock, db, data_dir)


@dataclass
class Reply:
    """One response."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str:
        """The first header of that name, or ""."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), "")

    def headers_named(self, name: str) -> list[str]:
        """Every header of that name."""
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def text(self) -> str:
        """The body as text."""
        return self.body.decode("utf-8", "replace")

    @property
    def location(self) -> str:
        """The redirect target's path and query."""
        parts = urlsplit(self.header("Location"))
        return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass
class WsgiClient:
    """Calls the WSGI app in-process, keeping the session cookie like a browser would."""

    app: Any
    cookie: str = ""
    origin: str | None = ORIGIN
    remote: str = "192.0.2.10"
    last_csrf: str = ""
    extra_headers: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        content_type: str = "",
    ) -> Reply:
        """Send one request; form data is url-encoded."""
        path_part, _, query = path.partition("?")
        if data is not None:
            body = urlencode(data).encode()
            content_type = "application/x-www-form-urlencoded"
        body = body or b""
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path_part,
            "QUERY_STRING": query,
            "SERVER_NAME": HOST,
            "SERVER_PORT": "443",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": HOST,
            "REMOTE_ADDR": self.remote,
            "wsgi.url_scheme": "https",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": content_type,
        }
        if self.cookie:
            environ["HTTP_COOKIE"] = f"{COOKIE_NAME}={self.cookie}"
        if self.origin and method not in ("GET", "HEAD"):
            environ["HTTP_ORIGIN"] = self.origin
        for name, value in {**self.extra_headers, **(headers or {})}.items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        captured: dict[str, Any] = {}

        def start_response(status: str, hdrs: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = int(status.split()[0]), hdrs
            return lambda chunk: None

        chunks = self.app(environ, start_response)
        out = b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)
        if hasattr(chunks, "close"):
            chunks.close()
        reply = Reply(captured["status"], captured["headers"], out)
        for value in reply.headers_named("Set-Cookie"):
            jar: SimpleCookie = SimpleCookie()
            jar.load(value)
            if COOKIE_NAME in jar:
                morsel = jar[COOKIE_NAME]
                self.cookie = "" if morsel["max-age"] == "0" or not morsel.value else morsel.value
        if match := _CSRF.search(reply.text):
            self.last_csrf = match.group(1)
        return reply

    def get(self, path: str, **kw: Any) -> Reply:
        """GET."""
        return self.request("GET", path, **kw)

    def post(
        self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True, **kw: Any
    ) -> Reply:
        """POST a form, with the CSRF token of the last page seen unless csrf=False."""
        data = dict(data or {})
        if csrf:
            if not self.last_csrf:
                self.get("/account")
            data.setdefault("csrf", self.last_csrf)
        return self.request("POST", path, data=data, **kw)

    def multipart(
        self, path: str, fields: dict[str, str], files: dict[str, tuple[str, bytes]]
    ) -> Reply:
        """POST multipart/form-data (file uploads), with the CSRF token."""
        boundary = "----evsite-test-boundary"
        parts = []
        for name, value in {"csrf": self.last_csrf, **fields}.items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'
                f"\r\n\r\n{value}\r\n".encode()
            )
        for name, (filename, content) in files.items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'.encode()
                + content
                + b"\r\n"
            )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.request(
            "POST", path, body=body, content_type=f"multipart/form-data; boundary={boundary}"
        )


def client(site: Site) -> WsgiClient:
    """A fresh client (no cookie) on the site's WSGI app."""
    from evsite.web.app import wsgi

    return WsgiClient(wsgi(site.web.app))


def set_up_admin(
    site: Site, c: WsgiClient, username: str = ADMIN, password: str = PASSWORD
) -> None:
    """Create the first admin through the setup page."""
    reply = c.post(
        "/setup",
        {"secret": site.secret, "username": username, "password": password, "password2": password},
        csrf=False,
    )
    assert reply.status == 303 and reply.location.startswith("/login"), reply.text


def log_in(c: WsgiClient, username: str = ADMIN, password: str = PASSWORD) -> Reply:
    """Log in; the client keeps the new session cookie."""
    reply = c.post("/login", {"username": username, "password": password}, csrf=False)
    c.get("/account")  # pick up the session's CSRF token
    return reply
