"""Static assets from the package (no CDN), and the unauthenticated health check."""

from __future__ import annotations

import re
from pathlib import Path

from bottle import Bottle, HTTPError, HTTPResponse, response, static_file

from evsite.web.context import WebContext
from evsite.web.routing import route

STATIC_DIR = Path(__file__).with_name("static")
_NAME = re.compile(r"^[a-z0-9-]{1,40}\.(css|js|svg)$")


def install(app: Bottle, ctx: WebContext) -> None:
    """Add /static/<name> and /healthz."""

    @route(app, "GET", "/static/<name>")
    def asset(name: str) -> HTTPResponse:
        if not _NAME.match(name):
            raise HTTPError(404, "Not found")
        result: HTTPResponse = static_file(name, root=str(STATIC_DIR))
        return result

    @route(app, "GET", "/healthz")
    def healthz() -> str:
        response.content_type = "application/json"
        return '{"status":"ok"}'
