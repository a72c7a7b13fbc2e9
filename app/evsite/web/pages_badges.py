"""Badges: the local list, groups, VIP flag, CSV import and export."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bottle import Bottle, HTTPResponse, request, response

from evsite.web.badge_csv import badge_csv_lines, badge_errors_summary, parse_badge_csv
from evsite.web.context import WebContext
from evsite.web.facade import Badge, BadgeGroup, FacadeError
from evsite.web.routing import route
from evsite.web.validate import valid_group, valid_id_tag
from evsite.web.view import audit, done, field, page

STRATEGIES = ("local", "csms", "local_first")
MAX_IMPORT_BYTES = 1024 * 1024


def install(app: Bottle, ctx: WebContext) -> None:
    """Add the badge routes."""

    def listing(status: int = 200, **values: Any) -> str:
        return page(
            ctx,
            "badges.html",
            "Badges",
            status,
            badges=ctx.facade.badges(),
            groups=ctx.facade.badge_groups(),
            strategies=STRATEGIES,
            **values,
        )

    @route(app, "GET", "/badges")
    def badges() -> str:
        return listing()

    @route(app, "POST", "/badges")
    def put() -> str | HTTPResponse:
        try:
            group = field("group", 40)
            badge = Badge(
                valid_id_tag(field("id_tag", 20)),
                field("name", 80),
                valid_group(group) if group else "",
                vip=field("vip", 5) == "on",
                blocked=field("blocked", 5) == "on",
            )
            ctx.facade.put_badge(badge)
        except (ValueError, FacadeError) as exc:
            return listing(400, error=str(exc))
        audit(ctx, "badge.saved", id_tag=badge.id_tag, vip=badge.vip, blocked=badge.blocked)
        return done("/badges", "badge-saved")

    @route(app, "POST", "/badges/<id_tag>/delete")
    def delete(id_tag: str) -> str | HTTPResponse:
        try:
            ctx.facade.delete_badge(valid_id_tag(id_tag))
        except (ValueError, FacadeError) as exc:
            return listing(404, error=str(exc))
        audit(ctx, "badge.deleted", id_tag=id_tag)
        return done("/badges", "badge-deleted")

    @route(app, "POST", "/badges/groups")
    def put_group() -> str | HTTPResponse:
        strategy = field("strategy", 20)
        try:
            name = valid_group(field("name", 40))
            if strategy not in STRATEGIES:
                raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}")
            ctx.facade.put_badge_group(BadgeGroup(name, strategy))  # type: ignore[arg-type]
        except (ValueError, FacadeError) as exc:
            return listing(400, error=str(exc))
        audit(ctx, "badge.group.saved", group=name, strategy=strategy)
        return done("/badges", "group-saved")

    @route(app, "POST", "/badges/import")
    def import_csv() -> str:
        upload = request.files.get("file")
        if upload is not None:
            data = upload.file.read(MAX_IMPORT_BYTES + 1)
        else:
            data = field("text", MAX_IMPORT_BYTES + 1).encode()
        if len(data) > MAX_IMPORT_BYTES:
            return listing(413, error="The file is larger than 1 MiB.")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return listing(400, error="The file is not UTF-8 text.")
        parsed, errors = parse_badge_csv(text)
        if errors:
            audit(ctx, "badge.imported", "failed", errors=len(errors))
            return listing(
                400,
                error="Nothing was imported; fix these lines first.",
                import_errors=badge_errors_summary(errors),
            )
        try:
            count = ctx.facade.import_badges(parsed)
        except FacadeError as exc:
            return listing(400, error=f"Nothing was imported: {exc}")
        audit(ctx, "badge.imported", count=count)
        return listing(message=f"{count} badge(s) imported.")

    @route(app, "GET", "/badges.csv")
    def export() -> Iterable[str]:
        response.content_type = "text/csv; charset=utf-8"
        response.set_header("Content-Disposition", 'attachment; filename="evsite-badges.csv"')
        return badge_csv_lines(ctx.facade.badges())
