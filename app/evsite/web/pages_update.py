"""Firmware update from the browser: the bundle upload (streamed) and the progress endpoint.

The maintenance page's firmware section (see pages_maintenance) posts the
bundle file as the raw request body to `UPLOAD_PATH` from `static/update.js`
(XHR, so the browser shows upload progress), with the CSRF token in the
`X-CSRF-Token` header. The body is streamed into a file the update service
reserved in the data directory, against the bundle limit, never through
bottle's form buffer (see upload.py). The install then runs in the
background; the page polls `STATUS_PATH` for verify and write progress.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from bottle import Bottle, HTTPResponse, request

from evsite.clock import iso_utc
from evsite.web.context import WebContext
from evsite.web.facade import UpdateJob, UpdateRefused
from evsite.web.guard import identity, json_error
from evsite.web.routing import route
from evsite.web.upload import (
    BodyIncomplete,
    BodyTooLarge,
    content_length,
    install_body_limits,
    is_chunked,
    is_form,
    stream_to_file,
)

UPLOAD_PATH = "/ui/update/upload"
STATUS_PATH = "/ui/update/status.json"
REFUSAL_STATUS = {
    "unavailable": 503,
    "busy": 409,
    "too-large": 413,
    "no-space": 507,
    "no-trial": 409,
    "unknown-upload": 409,
}


def job_percent(job: UpdateJob) -> int | None:
    """How far the current phase is, 0..100; None when unknown."""
    if job.phase == "installed":
        return 100
    if not job.total or job.phase == "failed":
        return None
    return min(100, 100 * job.done // job.total)


def job_text(job: UpdateJob) -> str:
    """One line saying where an update job is, or why it failed."""
    percent = job_percent(job)
    suffix = f": {percent} %" if percent is not None else ""
    if job.phase == "receiving":
        what = "Downloading from the CSMS" if job.origin == "ocpp" else "Receiving the bundle"
        return what + suffix
    if job.phase == "verify":
        return "Checking the signature and the manifest"
    if job.phase == "write":
        return "Writing the inactive slot" + suffix
    if job.phase == "installed":
        return f"Version {job.version} is installed in slot {job.slot}; reboot to try it."
    return f"Update refused ({job.reason}): {job.message}"


def job_json(job: UpdateJob | None) -> dict[str, Any] | None:
    """A job as the page's script reads it."""
    if job is None:
        return None
    return {
        "id": job.job_id,
        "origin": job.origin,
        "phase": job.phase,
        "active": job.active,
        "done": job.done,
        "total": job.total,
        "percent": job_percent(job),
        "file": job.file,
        "version": job.version,
        "slot": job.slot,
        "reason": job.reason,
        "message": job.message,
        "text": job_text(job),
        "started_at": iso_utc(job.started_at),
        "finished_at": iso_utc(job.finished_at) if job.finished_at else None,
    }


def _json(status: int, body: dict[str, Any]) -> HTTPResponse:
    return HTTPResponse(json.dumps(body), status, {"Content-Type": "application/json"})


def install(app: Bottle, ctx: WebContext) -> None:
    """Add the upload and status routes, and the body limits they rely on."""
    install_body_limits(app, ctx.settings.max_body_bytes, frozenset({UPLOAD_PATH}))

    @route(app, "GET", STATUS_PATH)
    def status() -> HTTPResponse:
        current = ctx.facade.update_status()
        return _json(
            200,
            {
                "job": job_json(current.job),
                "reboot_pending": current.reboot_pending,
                "pending_version": current.pending_version,
            },
        )

    @route(app, "POST", UPLOAD_PATH)
    def upload() -> HTTPResponse:
        ident = identity()
        environ = request.environ
        if is_form(environ):
            return json_error(415, "send the bundle file itself as the request body")
        length = content_length(environ)
        if length is None and not is_chunked(environ):
            return json_error(411, "the upload needs a Content-Length")
        if length == 0:
            return json_error(400, "the upload is empty")
        limit = ctx.facade.update_status().max_upload_bytes
        name = unquote(request.get_header("X-Bundle-Name", "") or "")[:200]
        try:
            path = ctx.facade.begin_update_upload(
                length or 0, actor=ident.actor, source=ident.source, name=name
            )
        except UpdateRefused as exc:
            ctx.facade.record(
                "update.upload_failed",
                actor=ident.actor,
                source=ident.source,
                outcome="refused",
                detail={"origin": "web", "reason": exc.code, "message": exc.message[:200]},
            )
            return json_error(REFUSAL_STATUS.get(exc.code, 409), exc.message)
        try:
            stream_to_file(environ["wsgi.input"], path, length=length, limit=limit)
        except BodyTooLarge as exc:
            ctx.facade.abort_update_upload(path, "upload-too-large", str(exc), source=ident.source)
            return json_error(413, f"{exc}; this device takes bundles up to {limit} bytes")
        except (BodyIncomplete, OSError) as exc:
            ctx.facade.abort_update_upload(
                path, "upload-interrupted", str(exc), source=ident.source
            )
            return json_error(400, f"the upload did not arrive whole ({exc}); nothing changed")
        except BaseException:
            ctx.facade.abort_update_upload(
                path, "upload-interrupted", "the upload failed", source=ident.source
            )
            raise
        job = ctx.facade.start_update(path, actor=ident.actor, source=ident.source)
        return _json(202, {"job": job_json(job)})
