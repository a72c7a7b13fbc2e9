"""Stations: enrolled and pending, enrollment decisions, remote commands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bottle import Bottle, HTTPError, HTTPResponse

from evsite.web.context import WebContext
from evsite.web.facade import CommandResult, EnrolledStation, FacadeError
from evsite.web.routing import route
from evsite.web.validate import valid_id_tag, valid_int, valid_station_id, valid_station_key
from evsite.web.view import audit, done, field, page, query

PAGE_SIZE = 50
COMMANDS = ("start", "stop", "unlock", "reset-soft", "reset-hard", "available", "unavailable")


def install(app: Bottle, ctx: WebContext) -> None:
    """Add the station routes."""

    def overview(status: int = 200, **values: Any) -> str:
        enrolled = ctx.facade.enrolled_stations()
        pages = max(1, (len(enrolled) + PAGE_SIZE - 1) // PAGE_SIZE)
        page_no = page_showing(enrolled, values.get("new_station")) or min(pages, wanted_page())
        shown = enrolled[(page_no - 1) * PAGE_SIZE : page_no * PAGE_SIZE]
        on_page = {s.station_id for s in shown}
        live = {
            s.station_id: s for s in ctx.facade.site_snapshot().stations if s.station_id in on_page
        }
        nav = {n: f"/stations?page={n}" for n in (page_no - 1, page_no + 1) if 1 <= n <= pages}
        return page(
            ctx,
            "stations.html",
            "Stations",
            status,
            enrolled=shown,
            total=len(enrolled),
            page_no=page_no,
            pages=pages,
            nav=nav,
            pending=ctx.facade.pending_stations(),
            live=live,
            **values,
        )

    @route(app, "GET", "/stations")
    def stations() -> str:
        return overview()

    @route(app, "POST", "/stations/add")
    def add() -> str:
        try:
            station_id = valid_station_id(field("station_id", 60))
            key_text = field("key", 100)
            key = valid_station_key(key_text) if key_text else ""
        except ValueError as exc:
            return overview(400, error=str(exc))
        try:
            if key:
                ctx.facade.add_station_with_key(station_id, key)
                shown = None
            else:
                shown = ctx.facade.add_station(station_id)
        except FacadeError as exc:
            return overview(409, error=str(exc))
        audit(ctx, "station.enrolled", station_id=station_id, how="added")
        return overview(
            new_key=shown, new_station=station_id, message=f"Station {station_id} enrolled."
        )

    @route(app, "POST", "/stations/<station_id>/approve")
    def approve(station_id: str) -> str:
        try:
            shown = ctx.facade.approve_station(valid_station_id(station_id))
        except (ValueError, FacadeError) as exc:
            return overview(409, error=str(exc))
        audit(ctx, "station.enrolled", station_id=station_id, how="approved")
        return overview(
            new_key=shown, new_station=station_id, message=f"Station {station_id} approved."
        )

    @route(app, "POST", "/stations/<station_id>/reject")
    def reject(station_id: str) -> str | HTTPResponse:
        try:
            ctx.facade.reject_station(valid_station_id(station_id))
        except (ValueError, FacadeError) as exc:
            return overview(409, error=str(exc))
        audit(ctx, "station.rejected", station_id=station_id)
        return done("/stations", "rejected")

    @route(app, "POST", "/stations/<station_id>/remove")
    def remove(station_id: str) -> str | HTTPResponse:
        try:
            ctx.facade.remove_station(valid_station_id(station_id))
        except (ValueError, FacadeError) as exc:
            return overview(409, error=str(exc))
        audit(ctx, "station.removed", station_id=station_id)
        return done("/stations", "removed")

    def detail(station_id: str, status: int = 200, **values: Any) -> str:
        enrolled = {s.station_id: s for s in ctx.facade.enrolled_stations()}
        if station_id not in enrolled:
            raise HTTPError(404, "No such station")
        live = next(
            (s for s in ctx.facade.site_snapshot().stations if s.station_id == station_id), None
        )
        return page(
            ctx,
            "station.html",
            f"Station {station_id}",
            status,
            station=enrolled[station_id],
            live=live,
            **values,
        )

    @route(app, "GET", "/stations/<station_id>")
    def station(station_id: str) -> str:
        return detail(station_id)

    @route(app, "POST", "/stations/<station_id>/command")
    def command(station_id: str) -> str:
        detail_check = {s.station_id for s in ctx.facade.enrolled_stations()}
        if station_id not in detail_check:
            raise HTTPError(404, "No such station")
        name = field("command", 20)
        try:
            result = run_command(ctx, station_id, name)
        except ValueError as exc:
            return detail(station_id, 400, error=str(exc))
        audit(
            ctx,
            "station.command",
            "ok" if result.ok else "failed",
            station_id=station_id,
            command=name,
            status=result.status,
            error=result.error,
        )
        text = f"{name}: {result.status or 'no answer'}" + (
            f" ({result.error})" if result.error else ""
        )
        if result.ok:
            return detail(station_id, message=text)
        return detail(station_id, 502, error=text)


def wanted_page() -> int:
    """The page the query string asks for; the first one when it asks for none or nonsense."""
    text = query("page", 6)
    return int(text) if text.isdigit() and int(text) >= 1 else 1


def page_showing(enrolled: Sequence[EnrolledStation], station_id: object) -> int | None:
    """The page that lists a station (a station just enrolled is shown where it landed)."""
    for n, s in enumerate(enrolled):
        if s.station_id == station_id:
            return n // PAGE_SIZE + 1
    return None


def run_command(ctx: WebContext, station_id: str, name: str) -> CommandResult:
    """Validate the form of one remote command and send it through the facade."""
    f = ctx.facade
    if name == "start":
        connector = valid_int(field("connector", 3), 1, 99, "connector")
        return f.remote_start(station_id, connector, valid_id_tag(field("id_tag", 20)))
    if name == "stop":
        return f.remote_stop(
            station_id, valid_int(field("transaction", 12), 0, 2**31 - 1, "transaction id")
        )
    if name == "unlock":
        return f.unlock_connector(station_id, valid_int(field("connector", 3), 1, 99, "connector"))
    if name in ("reset-soft", "reset-hard"):
        return f.reset(station_id, "Soft" if name == "reset-soft" else "Hard")
    if name in ("available", "unavailable"):
        connector = valid_int(field("connector", 3) or "0", 0, 99, "connector")
        return f.change_availability(station_id, connector, name == "available")
    raise ValueError(f"unknown command; use one of {', '.join(COMMANDS)}")
