"""Assemble the bottle application: guard, error pages, and every page and API module."""

from __future__ import annotations

import html
import json
from typing import Any

import bottle
from bottle import Bottle, HTTPError, request, response

from evsite.web import (
    api,
    pages_auth,
    pages_badges,
    pages_dashboard,
    pages_maintenance,
    pages_sessions,
    pages_settings,
    pages_stations,
    pages_users,
    static,
)
from evsite.web.context import WebContext
from evsite.web.guard import Guard
from evsite.web.headers import with_security_headers
from evsite.web.server import WsgiApp

_REASONS = {
    400: "Bad request",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    413: "Request too large",
    500: "Internal error",
}
_PAGE = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
    '<link rel="stylesheet" href="/static/app.css">'
    '<link rel="icon" href="/static/favicon.svg"></head><body class="error-page">'
    '<main><h1>{title}</h1><p>{text}</p><p><a href="/">Back to the start page</a></p>'
    "</main></body></html>"
)


def error_page(err: HTTPError) -> str:
    """The generic error body: JSON for API paths, a plain page otherwise; never a traceback."""
    status = int(err.status_code)
    title = _REASONS.get(status, "Error")
    # Messages written by our own code for 4xx are safe to show; 5xx details never are.
    text = str(err.body) if status < 500 and isinstance(err.body, str) and err.body else title
    if request.path.startswith(("/api/", "/ui/")):
        response.content_type = "application/json"
        return json.dumps({"error": text})
    response.content_type = "text/html; charset=utf-8"
    return _PAGE.format(title=html.escape(title), text=html.escape(text))


def build_app(ctx: WebContext) -> Bottle:
    """The bottle app with every route; wrap it with `wsgi(app)` before serving."""
    bottle.debug(False)  # never let bottle render tracebacks, whatever a caller set before
    app = Bottle(catchall=True)
    app.config["json.enable"] = False
    app.default_error_handler = error_page
    app.install(Guard(ctx))
    for module in (
        static,
        pages_auth,
        pages_dashboard,
        pages_stations,
        pages_sessions,
        pages_badges,
        pages_users,
        pages_settings,
        pages_maintenance,
        api,
    ):
        module.install(app, ctx)
    return app


def wsgi(app: Bottle) -> WsgiApp:
    """The app as served: with the security headers on every response."""
    served: Any = app
    return with_security_headers(served)
