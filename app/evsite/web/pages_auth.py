"""Login, logout, first-access setup and the caller's own password."""

from __future__ import annotations

import threading

from bottle import Bottle, HTTPError, HTTPResponse, response

from evsite.web.accounts import AccountError
from evsite.web.context import WebContext
from evsite.web.guard import identity, see_other
from evsite.web.roles import Role
from evsite.web.routing import route
from evsite.web.sessions import COOKIE_NAME
from evsite.web.view import audit, field, page, query, redirect_with_cookies

LOGIN_FAILED = "Login failed. Check the user name and password, or wait a moment and retry."
SETUP_THROTTLE_KEY = "(setup)"


def safe_next(target: str) -> str:
    """Only local paths are followed after login; anything else goes to the dashboard."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def start_session(ctx: WebContext, user_id: int, source: str) -> None:
    """Create a session and set the cookie: Secure, HttpOnly, SameSite=Strict, Path=/."""
    token, _ = ctx.sessions.create(user_id, source)
    response.set_cookie(COOKIE_NAME, token, secure=True, httponly=True, samesite="strict", path="/")


def install(app: Bottle, ctx: WebContext) -> None:
    """Add the authentication routes."""
    setup_lock = threading.Lock()

    @route(app, "GET", "/login")
    def login_form() -> str:
        return page(ctx, "login.html", "Log in", next=safe_next(query("next", 500)))

    @route(app, "POST", "/login")
    def login() -> str:
        ident = identity()
        username, password = field("username", 64), field("password", 1024)
        target = safe_next(field("next", 500))
        if ctx.throttle.retry_after(username, ident.source) > 0:
            audit(ctx, "web.login", "failed", username=username, reason="throttled")
            return page(ctx, "login.html", "Log in", 401, error=LOGIN_FAILED, next=target)
        user = ctx.accounts.authenticate(username, password)
        if user is None:
            ctx.throttle.failed(username, ident.source)
            audit(ctx, "web.login", "failed", username=username)
            return page(ctx, "login.html", "Log in", 401, error=LOGIN_FAILED, next=target)
        ctx.throttle.succeeded(username, ident.source)
        if ident.session is not None:  # rotate: never keep a pre-login session
            ctx.sessions.end(ident.session.token_hash)
        start_session(ctx, user.user_id, ident.source)
        ctx.facade.record("web.login", actor=user.username, source=ident.source)
        return redirect_with_cookies(target)

    @route(app, "POST", "/logout")
    def logout() -> str:
        ident = identity()
        if ident.session is not None:
            ctx.sessions.end(ident.session.token_hash)
        audit(ctx, "web.logout")
        response.delete_cookie(COOKIE_NAME, path="/", secure=True, httponly=True, samesite="strict")
        return redirect_with_cookies("/login?m=logged-out")

    @route(app, "GET", "/setup")
    def setup_form() -> str:
        if ctx.first_access.done():
            raise HTTPError(404, "Not found")
        return page(ctx, "setup.html", "First access", window=ctx.first_access.window_open())

    @route(app, "POST", "/setup")
    def setup() -> str | HTTPResponse:
        ident = identity()
        with setup_lock:  # two set-ups racing must not make two first admins
            if ctx.first_access.done():
                raise HTTPError(404, "Not found")
            window = ctx.first_access.window_open()
            username = field("username", 64)
            show: dict[str, object] = {"window": window, "username": username}
            if ctx.throttle.retry_after(SETUP_THROTTLE_KEY, ident.source) > 0:
                return page(
                    ctx,
                    "setup.html",
                    "First access",
                    403,
                    **show,
                    error="Too many wrong setup secrets; wait a moment and retry.",
                )
            if not window and not ctx.first_access.secret_matches(field("secret", 200)):
                ctx.throttle.failed(SETUP_THROTTLE_KEY, ident.source)
                audit(ctx, "web.setup", "failed", reason="wrong setup secret")
                return page(
                    ctx,
                    "setup.html",
                    "First access",
                    403,
                    **show,
                    error="The setup secret is wrong.",
                )
            password = field("password", 1024)
            if password != field("password2", 1024):
                return page(
                    ctx,
                    "setup.html",
                    "First access",
                    400,
                    **show,
                    error="The two passwords differ.",
                )
            try:
                user = ctx.accounts.add(username, Role.ADMIN, password)
            except AccountError as exc:
                return page(ctx, "setup.html", "First access", 400, **show, error=str(exc))
            ctx.first_access.mark_done()
            ctx.facade.record(
                "web.setup",
                actor=user.username,
                source=ident.source,
                detail={"method": "window" if window else "secret"},
            )
            return see_other("/login?m=setup-done")

    @route(app, "GET", "/account")
    def account() -> str:
        return page(ctx, "account.html", "Your account")

    @route(app, "POST", "/account/password")
    def change_password() -> str:
        ident = identity()
        assert ident.user is not None and ident.session is not None  # guard: VIEWER+
        current, new = field("current", 1024), field("password", 1024)
        if ctx.accounts.authenticate(ident.user.username, current) is None:
            audit(ctx, "web.password.changed", "failed", reason="wrong current password")
            return page(
                ctx, "account.html", "Your account", 400, error="The current password is wrong."
            )
        if new != field("password2", 1024):
            return page(
                ctx, "account.html", "Your account", 400, error="The two new passwords differ."
            )
        try:
            ctx.accounts.set_password(ident.user.user_id, new)
        except AccountError as exc:
            return page(ctx, "account.html", "Your account", 400, error=str(exc))
        ctx.sessions.end_all_for(ident.user.user_id)
        start_session(ctx, ident.user.user_id, ident.source)
        audit(ctx, "web.password.changed")
        return redirect_with_cookies("/account?m=password-changed")
