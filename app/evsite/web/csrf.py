"""Cross-site request forgery defences: same-origin check and per-session token."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM_FIELD = "csrf"
HEADER = "HTTP_X_CSRF_TOKEN"


def own_origin(environ: Mapping[str, Any]) -> str:
    """The origin this request was addressed to, e.g. https://evsite.local:8443."""
    scheme = environ.get("wsgi.url_scheme", "https")
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    return f"{scheme}://{host}".lower()


def same_origin(environ: Mapping[str, Any]) -> bool:
    """True when Origin (or, lacking it, Referer) names this very origin.

    A request with neither is refused: every browser we support sends Origin
    on a form post, so a request without one did not come from our pages.
    """
    expected = own_origin(environ)
    origin = environ.get("HTTP_ORIGIN")
    if origin:
        return bool(origin.lower() == expected)
    referer = environ.get("HTTP_REFERER")
    if referer:
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}".lower() == expected
    return False


def token_matches(expected: str, given: str | None) -> bool:
    """Compare the session's CSRF token with the one sent, in constant time."""
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())
