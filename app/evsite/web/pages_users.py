"""Users and API tokens (admin only)."""

from __future__ import annotations

from typing import Any

from bottle import Bottle, HTTPResponse

from evsite.web.accounts import AccountError
from evsite.web.context import WebContext
from evsite.web.guard import identity
from evsite.web.roles import Role
from evsite.web.routing import route
from evsite.web.view import audit, done, field, page


def install(app: Bottle, ctx: WebContext) -> None:
    """Add the user and token routes."""

    def listing(status: int = 200, **values: Any) -> str:
        return page(
            ctx,
            "users.html",
            "Users",
            status,
            users=ctx.accounts.list(),
            tokens=ctx.tokens.list(),
            roles=[r.label for r in Role],
            **values,
        )

    @route(app, "GET", "/users")
    def users() -> str:
        return listing()

    @route(app, "POST", "/users")
    def add() -> str | HTTPResponse:
        username = field("username", 64)
        try:
            role = Role.parse(field("role", 10))
            if field("password", 1024) != field("password2", 1024):
                raise AccountError("the two passwords differ")
            ctx.accounts.add(username, role, field("password", 1024))
        except (ValueError, AccountError) as exc:
            return listing(400, error=str(exc))
        audit(ctx, "user.added", username=username, role=role.label)
        return done("/users", "user-added")

    @route(app, "POST", "/users/<user_id:int>/role")
    def role(user_id: int) -> str | HTTPResponse:
        try:
            user = ctx.accounts.set_role(user_id, Role.parse(field("role", 10)))
        except (ValueError, AccountError) as exc:
            return listing(400, error=str(exc))
        ctx.sessions.end_all_for(user_id)  # a changed role takes effect at the next login
        audit(ctx, "user.role.changed", username=user.username, role=user.role.label)
        return done("/users", "role-changed")

    @route(app, "POST", "/users/<user_id:int>/disable")
    def disable(user_id: int) -> str | HTTPResponse:
        try:
            user = ctx.accounts.set_disabled(user_id, True)
        except AccountError as exc:
            return listing(400, error=str(exc))
        ctx.sessions.end_all_for(user_id)
        audit(ctx, "user.disabled", username=user.username)
        return done("/users", "user-disabled")

    @route(app, "POST", "/users/<user_id:int>/enable")
    def enable(user_id: int) -> str | HTTPResponse:
        try:
            user = ctx.accounts.set_disabled(user_id, False)
        except AccountError as exc:
            return listing(400, error=str(exc))
        audit(ctx, "user.enabled", username=user.username)
        return done("/users", "user-enabled")

    @route(app, "POST", "/users/<user_id:int>/password")
    def reset_password(user_id: int) -> str | HTTPResponse:
        try:
            if field("password", 1024) != field("password2", 1024):
                raise AccountError("the two passwords differ")
            ctx.accounts.set_password(user_id, field("password", 1024))
        except AccountError as exc:
            return listing(400, error=str(exc))
        ctx.sessions.end_all_for(user_id)
        user = ctx.accounts.get(user_id)
        audit(ctx, "user.password.reset", username=user.username if user else str(user_id))
        return done("/users", "password-set")

    @route(app, "POST", "/tokens")
    def create_token() -> str:
        ident_name = field("name", 64)
        scope = field("scope", 12)
        try:
            token, record = ctx.tokens.create(ident_name, scope, identity().actor)  # type: ignore[arg-type]
        except ValueError as exc:
            return listing(400, error=str(exc))
        audit(
            ctx, "api.token.created", name=record.name, scope=record.scope, token_id=record.token_id
        )
        return listing(new_token=token, message=f"API token {record.name} created.")

    @route(app, "POST", "/tokens/<token_id:int>/revoke")
    def revoke(token_id: int) -> str | HTTPResponse:
        try:
            record = ctx.tokens.revoke(token_id)
        except ValueError as exc:
            return listing(404, error=str(exc))
        audit(ctx, "api.token.revoked", name=record.name, token_id=token_id)
        return done("/users", "token-revoked")
