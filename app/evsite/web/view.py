"""Small helpers the page handlers share: form fields, rendering with the caller, audit."""

from __future__ import annotations

from typing import Any

from bottle import HTTPResponse, request, response

from evsite.web.context import WebContext
from evsite.web.guard import identity, see_other
from evsite.web.render import MESSAGES


def field(name: str, max_len: int = 200) -> str:
    """A form field as text (UTF-8), stripped and cut to max_len; "" when absent."""
    value = request.forms.getunicode(name, default="") or ""
    return str(value).strip()[:max_len]


def query(name: str, max_len: int = 200) -> str:
    """A query parameter as text, stripped and cut; "" when absent."""
    value = request.query.getunicode(name, default="") or ""
    return str(value).strip()[:max_len]


def page(ctx: WebContext, template: str, title: str, status: int = 200, **values: Any) -> str:
    """Render a page for the current caller (navigation, CSRF token, ?m= message)."""
    ident = identity()
    code = query("m", 40)
    values.setdefault("message", MESSAGES.get(code, ""))
    response.status = status
    return ctx.renderer.render(
        template,
        title=title,
        ident=ident,
        csrf=ident.session.csrf_token if ident.session else "",
        **values,
    )


def done(path: str, code: str) -> HTTPResponse:
    """Redirect after a successful change, with a fixed message code."""
    return see_other(f"{path}?m={code}")


def audit(ctx: WebContext, event: str, outcome: str = "ok", **detail: Any) -> None:
    """Record an audit event with the current caller as actor and source."""
    ident = identity()
    ctx.facade.record(event, actor=ident.actor, source=ident.source, outcome=outcome, detail=detail)


def redirect_with_cookies(location: str) -> str:
    """A 303 redirect that keeps cookies set on this response (an HTTPResponse would not)."""
    response.status = 303
    response.set_header("Location", location)
    return ""
