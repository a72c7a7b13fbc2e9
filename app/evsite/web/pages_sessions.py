"""Charge session history with filters, and its CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import urlencode

from bottle import Bottle, response

from evsite.clock import iso_utc
from evsite.web.context import WebContext
from evsite.web.facade import SessionQuery
from evsite.web.routing import route
from evsite.web.validate import valid_int, valid_time
from evsite.web.view import page, query

PAGE_SIZE = 50
CSV_BATCH = 1000
CSV_HEADER = [
    "session_id",
    "station_id",
    "connector_id",
    "badge",
    "started",
    "stopped",
    "energy_kwh",
    "stop_reason",
]


def session_filters() -> tuple[SessionQuery, dict[str, str]]:
    """Read the filter fields from the query string; ValueError names a bad one."""
    raw = {k: query(k, 60) for k in ("station", "badge", "from", "to", "page")}
    q = SessionQuery(
        station_id=raw["station"] or None,
        badge=raw["badge"] or None,
        since=valid_time(raw["from"], "from"),
        until=valid_time(raw["to"], "to"),
        limit=PAGE_SIZE,
        offset=(valid_int(raw["page"] or "1", 1, 100_000, "page") - 1) * PAGE_SIZE,
    )
    return q, raw


def csv_rows(ctx: WebContext, q: SessionQuery) -> Iterator[str]:
    """The CSV export, fetched from the facade a batch at a time."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    offset = 0
    while True:
        batch = ctx.facade.query_sessions(replace(q, limit=CSV_BATCH, offset=offset))
        for s in batch.items:
            writer.writerow(
                [
                    s.session_id,
                    s.station_id,
                    s.connector_id,
                    s.badge,
                    iso_utc(s.started),
                    iso_utc(s.stopped) if s.stopped else "",
                    f"{s.energy_wh / 1000:.3f}",
                    s.stop_reason,
                ]
            )
        yield out.getvalue()
        out.seek(0)
        out.truncate()
        offset += len(batch.items)
        if not batch.items or offset >= batch.total:
            return


def install(app: Bottle, ctx: WebContext) -> None:
    """Add /sessions and /sessions.csv."""

    @route(app, "GET", "/sessions")
    def sessions() -> str:
        try:
            q, raw = session_filters()
        except ValueError as exc:
            return page(
                ctx,
                "sessions.html",
                "Sessions",
                400,
                error=str(exc),
                items=(),
                total=0,
                raw={},
                page_no=1,
                pages=1,
                export="/sessions.csv",
                nav={},
            )
        result = ctx.facade.query_sessions(q)
        page_no = q.offset // PAGE_SIZE + 1
        pages = max(1, (result.total + PAGE_SIZE - 1) // PAGE_SIZE)
        filters = {k: v for k, v in raw.items() if v and k != "page"}
        nav = {
            n: "/sessions?" + urlencode({**filters, "page": str(n)})
            for n in (page_no - 1, page_no + 1)
            if 1 <= n <= pages
        }
        return page(
            ctx,
            "sessions.html",
            "Sessions",
            items=result.items,
            total=result.total,
            raw=raw,
            page_no=page_no,
            pages=pages,
            nav=nav,
            export="/sessions.csv?" + urlencode(filters),
        )

    @route(app, "GET", "/sessions.csv")
    def export() -> Iterator[str] | str:
        try:
            q, _ = session_filters()
        except ValueError as exc:
            response.status = 400
            response.content_type = "text/plain; charset=utf-8"
            return str(exc)
        response.content_type = "text/csv; charset=utf-8"
        stamp = ctx.clock.now().strftime("%Y%m%d-%H%M%S")
        response.set_header(
            "Content-Disposition", f'attachment; filename="evsite-sessions-{stamp}.csv"'
        )
        return csv_rows(ctx, q)
