"""The EMS REST API under /api/v1 (bearer tokens; see openapi.py)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bottle import Bottle, HTTPResponse, request, response

from evsite.web.context import WebContext
from evsite.web.facade import FacadeError, SessionQuery
from evsite.web.guard import json_error
from evsite.web.live_body import EncodedOnce
from evsite.web.openapi import openapi_document
from evsite.web.routing import route
from evsite.web.serialize import limit_json, session_json, site_json, station_json
from evsite.web.validate import valid_amps, valid_int, valid_time
from evsite.web.view import audit

MAX_JSON_BYTES = 16 * 1024
API_VERSION = "1.0.0"


def _json(body: Any) -> str:
    response.content_type = "application/json"
    return json.dumps(body, separators=(",", ":"))


def only_params(*allowed: str) -> None:
    """Refuse query parameters the operation does not know (typos must not pass silently)."""
    unknown = sorted(set(request.query.keys()) - set(allowed))
    if unknown:
        raise json_error(400, f"unknown query parameter(s): {', '.join(unknown)[:200]}")


def read_json_object() -> dict[str, Any]:
    """The request body as a JSON object, or an HTTPResponse error raised."""
    if request.content_type.split(";")[0].strip().lower() != "application/json":
        raise json_error(415, "the body must be application/json")
    if request.content_length > MAX_JSON_BYTES:
        raise json_error(413, f"the body is larger than {MAX_JSON_BYTES} bytes")
    try:
        body = json.loads(request.body.read(MAX_JSON_BYTES + 1) or b"null")
    except (ValueError, UnicodeDecodeError):
        raise json_error(400, "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise json_error(400, "the body must be a JSON object")
    return body


def install(app: Bottle, ctx: WebContext) -> None:
    """Add the /api/v1 routes."""
    document = json.dumps(openapi_document(API_VERSION), indent=1)

    @route(app, "GET", "/api/v1/openapi.json")
    def openapi() -> str:
        response.content_type = "application/json"
        return document

    @route(app, "GET", "/api/v1/site")
    def site() -> str:
        only_params()
        return _json(site_json(ctx.facade.site_snapshot(), ctx.facade.site_limit(), False))

    @route(app, "GET", "/api/v1/site/limit")
    def get_limit() -> str:
        only_params()
        return _json(limit_json(ctx.facade.site_limit()))

    @route(app, "PUT", "/api/v1/site/limit")
    def set_limit() -> str | HTTPResponse:
        only_params()
        body = read_json_object()
        unknown = set(body) - {"amps", "expiry_s"}
        try:
            if unknown:
                raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
            amps = valid_amps(body.get("amps"))
            expiry = body.get("expiry_s")
            if isinstance(expiry, bool) or not isinstance(expiry, int):
                raise ValueError("expiry_s must be a whole number of seconds")
            valid_int(str(expiry), 10, 86400, "expiry_s")
            limit = ctx.facade.set_site_limit(amps, expiry)
        except (ValueError, FacadeError) as exc:
            return json_error(400, str(exc))
        audit(ctx, "ems.site_limit.set", amps=amps, expiry_s=expiry)
        return _json(limit_json(limit))

    encoded_stations = EncodedOnce()

    @route(app, "GET", "/api/v1/stations")
    def stations() -> str:
        only_params()
        snap = ctx.facade.site_snapshot()
        response.content_type = "application/json"
        return encoded_stations.body(
            snap,
            None,
            lambda: json.dumps(
                {"stations": [station_json(s) for s in snap.stations]}, separators=(",", ":")
            ),
        )

    @route(app, "GET", "/api/v1/stations/<station_id>")
    def station(station_id: str) -> str | HTTPResponse:
        only_params()
        for s in ctx.facade.site_snapshot().stations:
            if s.station_id == station_id:
                return _json(station_json(s))
        return json_error(404, "no such station")

    @route(app, "GET", "/api/v1/sessions")
    def sessions() -> str | HTTPResponse:
        only_params("station", "badge", "from", "to", "limit", "offset")
        try:
            limit = valid_int(_param("limit", "100"), 1, 500, "limit")
            offset = valid_int(_param("offset", "0"), 0, 10**9, "offset")
            q = SessionQuery(
                station_id=_param("station", "") or None,
                badge=_param("badge", "") or None,
                since=_date_time("from"),
                until=_date_time("to"),
                limit=limit,
                offset=offset,
            )
        except ValueError as exc:
            return json_error(400, str(exc))
        result = ctx.facade.query_sessions(q)
        return _json(
            {
                "total": result.total,
                "limit": limit,
                "offset": offset,
                "items": [session_json(s) for s in result.items],
            }
        )


def _param(name: str, default: str) -> str:
    """A query parameter: the default when absent; present but empty is kept (and refused)."""
    value = request.query.getunicode(name)
    if value is None:
        return default
    if len(value) > 200:
        raise ValueError(f"{name} is too long")
    return str(value)


def _date_time(name: str) -> datetime | None:
    """An RFC 3339 date-time query parameter, or None when absent."""
    text = _param(name, "")
    if request.query.getunicode(name) is None:
        return None
    if "T" not in text.upper() or len(text) < 19:
        raise ValueError(f"{name} must be a date-time like 2026-01-31T08:00:00Z")
    return valid_time(text, name)
