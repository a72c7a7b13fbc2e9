"""Maintenance: audit log, firmware update, diagnostics, reboot, SSH, certificate, factory reset."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from bottle import Bottle, HTTPResponse, request, response

from evsite.web import pages_update
from evsite.web.certs import CertificateError
from evsite.web.context import WebContext
from evsite.web.facade import FacadeError, UpdateRefused
from evsite.web.guard import identity
from evsite.web.routing import route
from evsite.web.validate import valid_int
from evsite.web.view import audit, done, field, page, query

MAX_PEM_BYTES = 64 * 1024


def install(app: Bottle, ctx: WebContext) -> None:
    """Add the maintenance routes."""

    def overview(status: int = 200, **values: Any) -> str:
        prefix = query("event", 60)
        return page(
            ctx,
            "maintenance.html",
            "Maintenance",
            status,
            event=prefix,
            records=ctx.facade.audit_records(prefix, 200),
            ssh=ctx.facade.ssh_state(),
            cert=ctx.certificate.info(),
            update=ctx.facade.update_status(),
            job_text=pages_update.job_text,
            job_percent=pages_update.job_percent,
            scripts=["update.js"],
            **values,
        )

    @route(app, "GET", "/maintenance")
    def maintenance() -> str:
        return overview()

    @route(app, "GET", "/maintenance/audit.jsonl")
    def export() -> Iterator[str]:
        audit(ctx, "audit.exported")
        response.content_type = "application/x-ndjson; charset=utf-8"
        stamp = ctx.clock.now().strftime("%Y%m%d-%H%M%S")
        response.set_header(
            "Content-Disposition", f'attachment; filename="evsite-audit-{stamp}.jsonl"'
        )
        return (line + "\n" for line in ctx.facade.audit_export())

    @route(app, "POST", "/maintenance/audit/verify")
    def verify() -> str:
        problems = ctx.facade.audit_verify()
        audit(ctx, "audit.verified", "ok" if not problems else "failed", problems=len(problems))
        return overview(verified=True, problems=problems)

    @route(app, "POST", "/maintenance/diagnostics")
    def diagnostics() -> bytes:
        data = ctx.facade.diagnostics_bundle()
        audit(ctx, "diagnostics.downloaded", size=len(data))
        response.content_type = "application/gzip"
        stamp = ctx.clock.now().strftime("%Y%m%d-%H%M%S")
        response.set_header(
            "Content-Disposition", f'attachment; filename="evsite-diagnostics-{stamp}.tar.gz"'
        )
        return data

    def device_action(event: str, action: Callable[[], None], not_done: str, started: str) -> str:
        # Recorded first: an action that works may stop this process before anything after.
        audit(ctx, event, "requested")
        try:
            action()
        except FacadeError as exc:
            audit(ctx, event, "failed", error=str(exc))
            return overview(503, error=f"{not_done}: {exc}.")
        return overview(message=started)

    @route(app, "POST", "/maintenance/reboot")
    def reboot() -> str:
        return device_action(
            "device.reboot",
            ctx.facade.reboot,
            "Not rebooted",
            "The device is rebooting; reload this page in a minute.",
        )

    @route(app, "POST", "/maintenance/update/reboot")
    def reboot_into_update() -> str:
        ident = identity()
        try:
            ctx.facade.reboot_into_update(actor=ident.actor, source=ident.source)
        except UpdateRefused as exc:
            return overview(409, error=f"Not rebooted: {exc.message}.")
        return overview(
            message="The device is rebooting into the new version; reload this page in a "
            "few minutes. If the new version fails its health check, the device comes back "
            "to the old one by itself."
        )

    @route(app, "POST", "/maintenance/ssh")
    def ssh() -> str | HTTPResponse:
        enable = field("enabled", 5) == "on"
        try:
            minutes = valid_int(field("minutes", 6) or "60", 5, 24 * 60, "auto-off minutes")
        except ValueError as exc:
            return overview(400, error=str(exc))
        try:
            state = ctx.facade.set_ssh(enable, minutes)
        except FacadeError as exc:
            audit(ctx, "ssh.switched", "failed", enabled=enable, error=str(exc))
            return overview(503, error=f"SSH not switched: {exc}.")
        audit(ctx, "ssh.switched", enabled=state.enabled, auto_off_minutes=minutes if enable else 0)
        return done("/maintenance", "ssh-on" if state.enabled else "ssh-off")

    @route(app, "POST", "/maintenance/factory-reset")
    def factory_reset() -> str:
        ident = identity()
        assert ident.user is not None  # guard: ADMIN
        if (
            field("confirm", 20) != "RESET"
            or ctx.accounts.authenticate(ident.user.username, field("password", 1024)) is None
        ):
            audit(ctx, "device.factory_reset", "failed", reason="not confirmed")
            return overview(400, error="Factory reset needs your password and the word RESET.")
        return device_action(
            "device.factory_reset",
            ctx.facade.factory_reset,
            "Factory reset not started",
            "Factory reset started: the device wipes its data and reboots.",
        )

    @route(app, "POST", "/maintenance/certificate")
    def certificate() -> str | HTTPResponse:
        cert, key = request.files.get("cert"), request.files.get("key")
        if cert is None or key is None:
            return overview(400, error="Choose both a certificate file and a key file.")
        cert_pem, key_pem = cert.file.read(MAX_PEM_BYTES + 1), key.file.read(MAX_PEM_BYTES + 1)
        try:
            if len(cert_pem) > MAX_PEM_BYTES or len(key_pem) > MAX_PEM_BYTES:
                raise CertificateError("a file is larger than 64 KiB")
            info = ctx.certificate.replace(cert_pem, key_pem, ctx.clock.now())
        except CertificateError as exc:
            audit(ctx, "certificate.replaced", "failed", reason=str(exc))
            return overview(400, error=f"Certificate refused: {exc}")
        ctx.reload_tls()
        audit(ctx, "certificate.replaced", subject=info.subject, sha256=info.sha256)
        return done("/maintenance", "cert-replaced")

    pages_update.install(app, ctx)
