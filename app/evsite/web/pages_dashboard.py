"""The dashboard page and the JSON it polls."""

from __future__ import annotations

import json
from datetime import timedelta

from bottle import Bottle, response

from evsite.web.context import WebContext
from evsite.web.live_body import EncodedOnce
from evsite.web.routing import route
from evsite.web.serialize import site_json
from evsite.web.view import page, query

HISTORY_HOURS_MAX = 24


def install(app: Bottle, ctx: WebContext) -> None:
    """Add / and the /ui/site/*.json endpoints."""

    @route(app, "GET", "/")
    def dashboard() -> str:
        snap = ctx.facade.site_snapshot()
        return page(
            ctx,
            "dashboard.html",
            "Dashboard",
            snap=snap,
            limit=ctx.facade.site_limit(),
            scripts=["dashboard.js"],
        )

    encoded = EncodedOnce()

    @route(app, "GET", "/ui/site/live.json")
    def live() -> str:
        response.content_type = "application/json"
        snap, limit = ctx.facade.site_snapshot(), ctx.facade.site_limit()
        return encoded.body(
            snap,
            limit,
            lambda: json.dumps(site_json(snap, limit, with_stations=True), separators=(",", ":")),
        )

    @route(app, "GET", "/ui/site/history.json")
    def history() -> str:
        text = query("hours", 4)
        hours = int(text) if text.isdigit() and 1 <= int(text) <= HISTORY_HOURS_MAX else 6
        since = ctx.clock.now() - timedelta(hours=hours)
        points = [
            [
                int(p.time.timestamp() * 1000),
                round(p.power_w, 1),
                *(round(c, 2) for c in p.phase_current_a),
            ]
            for p in ctx.facade.site_history(since)
        ]
        response.content_type = "application/json"
        return json.dumps({"points": points}, separators=(",", ":"))
