"""Signed update upload through the real HTTPS server (cheroot, TLS) to "installed, reboot
pending", and a tampered bundle refused with its reason on the page, with a plain HTTPS
client (test_update_upload_browser.py does the same in Chromium). The web layer runs over
the fake facade composed with a real UpdateService on a simulated device."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from evsite.web.roles import Role
from tests.integration.web.conftest import HttpsClient
from tests.unit.update.support import Device, bundle_bytes, new_key, payloads
from tests.unit.update.test_service import service_for
from tests.unit.web.support import ADMIN, PASSWORD, Site, make_site

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Served:
    """A served web layer whose updates are real."""

    site: Site
    device: Device
    reboots: list[str]
    good: Path
    tampered: Path

    @property
    def port(self) -> int:
        return self.site.web.https.port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    site = make_site(tmp_path / "web")
    device = Device(tmp_path / "device", new_key())
    reboots: list[str] = []
    site.facade.updates = service_for(device, reboot=lambda: reboots.append("reboot"))
    site.web.context.accounts.add(ADMIN, Role.ADMIN, PASSWORD)
    site.web.context.first_access.mark_done()
    good = tmp_path / "evsite-1.1.0-qemu-arm64.bundle"
    good.write_bytes(bundle_bytes(device.key, payloads(seed=41)))
    data = bytearray(good.read_bytes())
    data[-100] ^= 0x55  # a payload byte: signature fine, hash not
    tampered = tmp_path / "evsite-1.1.0-tampered.bundle"
    tampered.write_bytes(bytes(data))
    site.web.start()
    yield Served(site, device, reboots, good, tampered)
    site.web.stop()
    site.db.close()


def _log_in(c: HttpsClient) -> str:
    assert c.post("/login", {"username": ADMIN, "password": PASSWORD}).status == 303
    match = _CSRF.search(c.get("/maintenance").text)
    assert match
    return match.group(1)


def _upload(c: HttpsClient, csrf: str, path: Path) -> int:
    reply = c.request(
        "POST",
        "/ui/update/upload",
        path.read_bytes(),
        {
            "Content-Type": "application/octet-stream",
            "X-CSRF-Token": csrf,
            "X-Bundle-Name": path.name,
            "Origin": c.origin,
        },
    )
    return reply.status


def _wait_phase(c: HttpsClient, phase: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        job: dict[str, Any] | None = json.loads(c.get("/ui/update/status.json").text)["job"]
        if job is not None and job["phase"] == phase:
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.02)


def test_upload_over_https_reaches_reboot_pending_and_tampered_shows_its_reason(
    served: Served,
) -> None:
    c = HttpsClient(served.port, served.site.web.context.certificate.cert_path)
    csrf = _log_in(c)
    assert _upload(c, csrf, served.tampered) == 202
    failed = _wait_phase(c, "failed")
    assert failed["reason"] == "payload-hash-mismatch"
    page = c.get("/maintenance").text
    assert "Update refused (payload-hash-mismatch)" in page and 'id="update-reboot"' not in page

    assert _upload(c, csrf, served.good) == 202
    installed = _wait_phase(c, "installed")
    assert (installed["version"], installed["slot"]) == ("1.1.0", "B")
    assert json.loads(c.get("/ui/update/status.json").text)["reboot_pending"] is True
    page = c.get("/maintenance").text
    assert 'id="update-reboot"' in page and "Version 1.1.0 is installed in slot B" in page
    reply = c.post("/maintenance/update/reboot", {"csrf": csrf})
    assert reply.status == 200 and served.reboots == ["reboot"]
