"""Security headers on every response, whatever produced it (pages, errors, files)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from evsite.web.server import WsgiApp

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

SECURITY_HEADERS: list[tuple[str, str]] = [
    ("Strict-Transport-Security", "max-age=31536000"),
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    # same-origin rather than no-referrer: under no-referrer browsers send
    # "Origin: null" with form posts (Fetch standard), which would blind the
    # same-origin check in csrf.py. Nothing ever leaves for another origin.
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), usb=()"),
]
_REPLACED = {name.lower() for name, _ in SECURITY_HEADERS} | {"cache-control", "server"}


def with_security_headers(app: WsgiApp) -> WsgiApp:
    """Wrap a WSGI app so each response carries the security and caching headers."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        static = environ.get("PATH_INFO", "").startswith("/static/")

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            kept = [(k, v) for k, v in headers if k.lower() not in _REPLACED]
            cache = "public, max-age=3600" if static and status.startswith("200") else "no-store"
            return start_response(
                status, [*kept, *SECURITY_HEADERS, ("Cache-Control", cache)], exc_info
            )

        return app(environ, start)

    return wrapped
