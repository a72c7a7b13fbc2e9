"""Settings by section, each field's validation error shown next to it."""

from __future__ import annotations

from typing import Any

from bottle import Bottle, HTTPError, HTTPResponse, request

from evsite.config_errors import ConfigError
from evsite.web.context import WebContext
from evsite.web.facade import FacadeError
from evsite.web.guard import see_other
from evsite.web.routing import route
from evsite.web.view import audit, done, page

SECTION_TITLES = {
    "network": "Network",
    "ocpp": "OCPP (stations)",
    "load_management": "Load management",
    "meters": "Meters",
    "ems": "BMS / EMS",
    "csms": "CSMS (upstream)",
}


def as_text(value: Any) -> str:
    """A setting's value as the form shows it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def install(app: Bottle, ctx: WebContext) -> None:
    """Add the settings routes."""

    def sections() -> list[str]:
        return list(ctx.facade.settings())

    def form(section: str, status: int = 200, **values: Any) -> str:
        current = ctx.facade.settings().get(section)
        if current is None:
            raise HTTPError(404, "No such settings section")
        return page(
            ctx,
            "settings.html",
            "Settings",
            status,
            section=section,
            sections=sections(),
            titles=SECTION_TITLES,
            fields=current,
            as_text=as_text,
            **values,
        )

    @route(app, "GET", "/settings")
    def index() -> HTTPResponse:
        names = sections()
        return see_other(f"/settings/{names[0]}" if names else "/")

    @route(app, "GET", "/settings/<section>")
    def show(section: str) -> str:
        return form(section)

    @route(app, "POST", "/settings/<section>")
    def save(section: str) -> str | HTTPResponse:
        current = ctx.facade.settings().get(section)
        if current is None:
            raise HTTPError(404, "No such settings section")
        typed = {
            name: (request.forms.getunicode(f"f.{name}", default="") or "").strip()[:1000]
            for name in current
        }
        # Only changed fields are sent: secrets come back as "" and must not be cleared.
        changed = {k: v for k, v in typed.items() if v != as_text(current[k])}
        if not changed:
            return form(section, message="Nothing changed.")
        errors = ctx.facade.validate_settings(section, changed)
        if errors:
            return form(
                section,
                400,
                errors=errors,
                typed=typed,
                error="Some values are not valid; nothing was saved.",
            )
        try:
            ctx.facade.apply_settings(section, changed)
        except ConfigError as exc:
            return form(
                section,
                400,
                errors={exc.key.rsplit(".", 1)[-1]: exc.why},
                typed=typed,
                error="Some values are not valid; nothing was saved.",
            )
        except FacadeError as exc:
            return form(section, 400, typed=typed, error=str(exc))
        audit(ctx, "config.changed", section=section, fields=sorted(changed))
        return done(f"/settings/{section}", "settings-saved")
