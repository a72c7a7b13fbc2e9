"""Server-side HTML: bottle SimpleTemplate files (auto-escaped) from the package."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bottle import SimpleTemplate

TEMPLATE_DIR = Path(__file__).with_name("templates")

# Fixed texts shown after a redirect (?m=code): a code, never free text, in the URL.
MESSAGES = {
    "approved": "Station approved.",
    "rejected": "Pending station rejected.",
    "removed": "Station removed.",
    "badge-saved": "Badge saved.",
    "badge-deleted": "Badge deleted.",
    "group-saved": "Badge group saved.",
    "user-added": "User added.",
    "role-changed": "Role changed.",
    "user-disabled": "User disabled; their sessions are ended.",
    "user-enabled": "User enabled.",
    "password-set": "Password set; that user's sessions are ended.",
    "password-changed": "Your password is changed; other sessions are ended.",
    "token-revoked": "API token revoked.",
    "settings-saved": "Settings saved.",
    "ssh-on": "SSH switched on.",
    "ssh-off": "SSH switched off.",
    "cert-replaced": "Certificate replaced; new connections use it.",
    "logged-out": "You are logged out.",
    "setup-done": "The administrator account is created. Please log in.",
}


def fmt_time(value: datetime | float | None) -> str:
    """A timestamp as 'YYYY-MM-DD HH:MM:SS UTC', or '—'."""
    if value is None:
        return "—"
    if isinstance(value, float | int):
        value = datetime.fromtimestamp(value, UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_num(value: float | None, digits: int = 1) -> str:
    """A number with fixed decimals, or '—'."""
    return "—" if value is None else f"{value:.{digits}f}"


class Renderer:
    """Loads and caches templates; every page gets the layout's common variables."""

    def __init__(self, directory: Path = TEMPLATE_DIR) -> None:
        self._directory = directory
        self._cache: dict[str, SimpleTemplate] = {}
        self._lock = threading.Lock()

    def _template(self, name: str) -> SimpleTemplate:
        with self._lock:
            tpl = self._cache.get(name)
            if tpl is None:
                tpl = SimpleTemplate(name=name, lookup=[str(self._directory)])
                self._cache[name] = tpl
            return tpl

    def render(self, name: str, **values: Any) -> str:
        """Render a template with helpers available as fmt_time and fmt_num."""
        values.setdefault("message", "")
        values.setdefault("error", "")
        values.setdefault("ident", None)
        values.setdefault("csrf", "")
        values.setdefault("title", "")
        helpers = {"fmt_time": fmt_time, "fmt_num": fmt_num}
        body = self._template(name).render(**helpers, **values)
        if name.startswith("_"):  # fragments and stand-alone pages carry no layout
            return str(body)
        return str(self._template("layout.html").render(**helpers, **values, base=body))
