"""The bottle plugin that enforces the route table: login, roles, tokens, CSRF, setup."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from bottle import HTTPError, HTTPResponse, request

from evsite.web import csrf
from evsite.web.context import Identity, WebContext
from evsite.web.roles import Access, required_access
from evsite.web.sessions import COOKIE_NAME

log = logging.getLogger("evsite.web")
SETUP_EXEMPT = frozenset({"/setup", "/healthz", "/static/<name>"})


def json_error(status: int, message: str, headers: dict[str, str] | None = None) -> HTTPResponse:
    """An HTTPResponse with {"error": message} as body."""
    return HTTPResponse(
        json.dumps({"error": message}),
        status,
        {"Content-Type": "application/json", **(headers or {})},
    )


def see_other(location: str) -> HTTPResponse:
    """A 303 redirect to a path on this server."""
    return HTTPResponse("", 303, {"Location": location})


def identity() -> Identity:
    """The caller of the current request (set by the guard before any handler runs)."""
    ident = request.environ.get("evsite.identity")
    if not isinstance(ident, Identity):
        raise RuntimeError("no identity: route not wrapped by the guard")
    return ident


class Guard:
    """Wraps every route: unknown routes are refused, then access is checked."""

    name = "evsite-guard"
    api = 2

    def __init__(self, ctx: WebContext) -> None:
        self._ctx = ctx

    def apply(self, callback: Callable[..., Any], route: Any) -> Callable[..., Any]:
        """Wrap one route's callback."""
        access = required_access(route.method, route.rule)
        rule = route.rule

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            request.environ["evsite.identity"] = self._admit(access, rule)
            try:
                return callback(*args, **kwargs)
            except HTTPResponse:
                raise
            except Exception:
                # Logged here with the route; the browser only ever sees a generic page.
                log.exception("error in %s %s", request.method, rule)
                raise HTTPError(500, "Internal error") from None

        return wrapper

    def _admit(self, access: Access | None, rule: str) -> Identity:
        source = request.environ.get("REMOTE_ADDR", "")
        if access is None:
            log.error("route %s %s has no entry in ROUTE_ACCESS; refused", request.method, rule)
            raise HTTPError(403, "Forbidden")
        if access >= Access.API_READ:
            return self._admit_token(access, source)
        exempt = rule in SETUP_EXEMPT or rule.startswith("/api/")
        if not exempt and not self._ctx.first_access.done():
            raise see_other("/setup")
        ident = self._session_identity(source)
        state_changing = request.method in csrf.STATE_CHANGING
        if access == Access.PUBLIC:
            if state_changing and not csrf.same_origin(request.environ):
                raise HTTPError(403, "Cross-origin request refused")
            return ident
        if ident.user is None or ident.session is None:
            if rule.startswith("/ui/"):
                raise json_error(401, "not logged in")
            target = "/login"
            if request.method == "GET":
                target += "?next=" + quote(request.fullpath, safe="/")
            raise see_other(target)
        if ident.user.role < access:
            raise HTTPError(403, "Forbidden")
        if state_changing:
            given = request.forms.get(csrf.FORM_FIELD) or request.environ.get(csrf.HEADER)
            if not csrf.same_origin(request.environ) or not csrf.token_matches(
                ident.session.csrf_token, given
            ):
                raise HTTPError(403, "Request refused: the form was stale or not from this site")
        return ident

    def _session_identity(self, source: str) -> Identity:
        cookie = request.get_cookie(COOKIE_NAME)
        if not cookie:
            return Identity(source)
        session = self._ctx.sessions.lookup(cookie)
        if session is None:
            return Identity(source)
        user = self._ctx.accounts.get(session.user_id)
        if user is None or user.disabled:
            self._ctx.sessions.end(session.token_hash)
            return Identity(source)
        return Identity(source, user=user, session=session)

    def _admit_token(self, access: Access, source: str) -> Identity:
        header = request.get_header("Authorization", "")
        scheme, _, value = header.partition(" ")
        token = self._ctx.tokens.check(value.strip()) if scheme.lower() == "bearer" else None
        if token is None:
            raise json_error(
                401,
                "a valid bearer token is required",
                {"WWW-Authenticate": 'Bearer realm="evsite"'},
            )
        if access == Access.API_WRITE and token.scope != "read-write":
            raise json_error(403, "this token may only read")
        return Identity(source, token=token)
