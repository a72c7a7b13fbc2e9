"""The firmware section of the maintenance page: streamed upload with its own limit, progress
JSON, the installer's reason on failure, reboot into the trial. The web layer runs
in-process over the fake facade, composed with a real UpdateService on a simulated
device (file slots, simulated bootchooser, a signing key made at test time)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from evsite.update.service import UpdateService
from evsite.web.roles import Role
from tests.unit.update.support import Device, bundle_bytes, new_key, payloads
from tests.unit.update.test_service import GatedWriter, service_for
from tests.unit.web.support import PASSWORD, Reply, Site, WsgiClient, client, log_in

MiB = 1024 * 1024
UPLOAD = "/ui/update/upload"
STATUS = "/ui/update/status.json"


@pytest.fixture
def device(tmp_path: Path) -> Device:
    return Device(tmp_path / "device", new_key())


@pytest.fixture
def reboots() -> list[str]:
    return []


@pytest.fixture
def service(site: Site, device: Device, reboots: list[str]) -> UpdateService:
    updates = service_for(device, reboot=lambda: reboots.append("reboot"))
    site.facade.updates = updates
    return updates


def upload(c: WsgiClient, data: bytes, *, csrf: str | None = None, name: str = "b.bundle") -> Reply:
    if not c.last_csrf:
        c.get("/maintenance")
    headers = {"X-CSRF-Token": c.last_csrf if csrf is None else csrf, "X-Bundle-Name": name}
    return c.request(
        "POST", UPLOAD, body=data, content_type="application/octet-stream", headers=headers
    )


def wait_job(c: WsgiClient, phase: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        reply = c.get(STATUS)
        assert reply.status == 200, reply.text
        job: dict[str, Any] = json.loads(reply.text)["job"]
        if job is not None and job["phase"] == phase:
            return job
        assert time.monotonic() < deadline, f"job never reached {phase}: {job}"
        time.sleep(0.01)


def test_the_page_shows_version_slots_and_the_upload_form(
    admin: WsgiClient, service: UpdateService
) -> None:
    page = admin.get("/maintenance").text
    assert 'id="running-version">1.0.0<' in page
    assert 'id="booted-slot">A<' in page
    assert "Other slot (B)" in page and "not bootable" in page
    assert 'id="update-form"' in page and f'data-max-bytes="{16 * MiB}"' in page
    assert '<script src="/static/update.js" defer>' in page
    assert 'id="update-reboot"' not in page
    assert "<script>" not in page  # no inline script (CSP)


def test_a_signed_bundle_is_streamed_installed_and_the_reboot_offered(
    admin: WsgiClient, service: UpdateService, device: Device, reboots: list[str]
) -> None:
    reply = upload(admin, bundle_bytes(device.key, payloads(seed=5)), name="evsite-1.1.0.bundle")
    assert reply.status == 202, reply.text
    assert json.loads(reply.text)["job"]["file"] == "evsite-1.1.0.bundle"
    job = wait_job(admin, "installed")
    assert (job["version"], job["slot"], job["percent"]) == ("1.1.0", "B", 100)
    assert "reboot to try it" in job["text"]
    assert json.loads(admin.get(STATUS).text)["reboot_pending"] is True
    page = admin.get("/maintenance").text
    assert 'id="update-reboot"' in page and "Version 1.1.0 is installed in slot B" in page
    assert "armed: boots once on trial" in page
    assert list((device.root / "data" / "incoming").iterdir()) == []
    reply = admin.post("/maintenance/update/reboot")
    assert reply.status == 200 and "rebooting into the new version" in reply.text
    assert reboots == ["reboot"]
    assert device.audit_events()[-1][0] == "update.reboot_requested"


def test_a_tampered_bundle_is_refused_with_the_installers_reason(
    admin: WsgiClient, service: UpdateService, device: Device
) -> None:
    data = bytearray(bundle_bytes(device.key, payloads()))
    data[200] ^= 0x01  # inside the signed manifest
    assert upload(admin, bytes(data)).status == 202
    job = wait_job(admin, "failed")
    assert job["reason"] == "bad-signature"
    assert job["text"].startswith("Update refused (bad-signature):")
    page = admin.get("/maintenance").text
    assert 'id="update-error" role="alert">Update refused (bad-signature)' in page
    assert 'id="update-reboot"' not in page
    assert device.audit_events()[-1][:2] == ("update.rejected", "refused")


def test_the_upload_has_its_own_limit_above_the_form_limit(
    admin: WsgiClient, service: UpdateService, site: Site
) -> None:
    # 3 MiB of junk passes the 2 MiB form limit (it reaches the installer: bad magic) ...
    assert upload(admin, b"\0" * (3 * MiB)).status == 202
    assert wait_job(admin, "failed")["reason"] == "bad-magic"
    # ... while every other route keeps the form limit.
    reply = admin.request(
        "POST", "/badges", body=b"a=" + b"x" * (3 * MiB), content_type="text/plain"
    )
    assert reply.status == 413


def test_too_large_is_refused_with_413_and_nothing_is_left_behind(
    admin: WsgiClient, site: Site, device: Device
) -> None:
    site.facade.updates = service_for(device, max_bytes=MiB)
    reply = upload(admin, b"x" * (MiB + 1))
    assert reply.status == 413 and "at most" in json.loads(reply.text)["error"]
    assert list((device.root / "data" / "incoming").iterdir()) == []
    refused = [r for r in site.facade.audit_records("update.") if r.event == "update.upload_failed"]
    assert refused and refused[0].detail["reason"] == "too-large"


def test_a_body_longer_than_announced_is_cut_at_the_limit_and_deleted(
    admin: WsgiClient, site: Site, device: Device
) -> None:
    site.facade.updates = service_for(device, max_bytes=MiB)
    admin.get("/maintenance")
    # A chunked body has no length up front: the count while streaming stops it.
    as_chunked = {"CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "chunked"}
    chunked = WsgiClient(
        lambda env, sr: admin.app({**env, **as_chunked}, sr),
        cookie=admin.cookie,
        last_csrf=admin.last_csrf,
    )
    reply = upload(chunked, b"x" * (2 * MiB))
    assert reply.status == 413
    assert list((device.root / "data" / "incoming").iterdir()) == []
    job = json.loads(admin.get(STATUS).text)["job"]
    assert (job["phase"], job["reason"]) == ("failed", "upload-too-large")


def test_an_interrupted_upload_is_deleted_and_audited(
    admin: WsgiClient, service: UpdateService, device: Device
) -> None:
    admin.get("/maintenance")
    short = WsgiClient(
        lambda env, sr: admin.app({**env, "CONTENT_LENGTH": "5000000"}, sr),
        cookie=admin.cookie,
        last_csrf=admin.last_csrf,
    )
    reply = upload(short, b"x" * 1000)
    assert reply.status == 400 and "did not arrive whole" in reply.text
    assert list((device.root / "data" / "incoming").iterdir()) == []
    assert device.audit_events()[-1][0] == "update.upload_failed"


def test_upload_needs_the_csrf_header_an_admin_and_a_raw_body(
    admin: WsgiClient, service: UpdateService, site: Site
) -> None:
    assert upload(admin, b"x" * 10, csrf="wrong").status == 403
    assert admin.post(UPLOAD, {"bundle": "x"}).status == 415  # a form is not a bundle
    accounts = site.web.context.accounts
    accounts.add("oper", Role.OPERATOR, PASSWORD)
    operator = client(site)
    log_in(operator, "oper")
    assert upload(operator, b"x" * 10).status == 403
    assert operator.get(STATUS).status == 403
    assert client(site).get(STATUS).status == 401
    assert service.update_job() is None


def test_a_second_upload_is_refused_while_one_installs(
    admin: WsgiClient, site: Site, device: Device
) -> None:
    writer = GatedWriter()
    site.facade.updates = service_for(device, writer=writer)
    assert upload(admin, bundle_bytes(device.key, payloads())).status == 202
    wait_job(admin, "write")
    reply = upload(admin, bundle_bytes(device.key, payloads(seed=2)))
    assert reply.status == 409 and "another update is being written" in reply.text
    writer.gate.set()
    wait_job(admin, "installed")


def test_reboot_without_an_installed_update_is_refused(
    admin: WsgiClient, service: UpdateService, reboots: list[str]
) -> None:
    reply = admin.post("/maintenance/update/reboot")
    assert reply.status == 409 and "no new version is waiting" in reply.text
    assert reboots == []


def test_without_an_update_system_the_page_says_why(admin: WsgiClient) -> None:
    page = admin.get("/maintenance").text
    assert 'id="update-unavailable"' in page and 'id="update-form"' not in page
    reply = upload(admin, b"x" * 10)
    assert reply.status == 503
