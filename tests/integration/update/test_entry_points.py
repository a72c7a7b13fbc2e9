"""The two entry points of signed updates, end to end on 127.0.0.1.

OCPP: a controller with its uplink and its own identity, the simulated CSMS
sending UpdateFirmware / SignedUpdateFirmware / Reset, a local HTTPS file
server with a certificate from the test CA (also a self-signed one, and plain
http), the real UpdateService and Installer on a simulated device (file slots,
simulated bootchooser, a signing key made at test time).

Defaults: the simulated device `evsite sim` gets, with and without a
development key.
"""

from __future__ import annotations

import base64
import logging
import ssl
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from ocpp.v16 import call

from evsite.clock import FakeClock, SystemClock, iso_utc
from evsite.config import parse_settings
from evsite.config_errors import ConfigError
from evsite.controller import Controller
from evsite.sim.csms import SimCsms, SimPki, wait_until
from evsite.store.audit import AuditLog
from evsite.store.db import open_database
from evsite.update.defaults import build_update_for, build_update_service_for
from evsite.update.service import UnavailableUpdates, UpdateService
from evsite.uplink.firmware import ControllerFirmware, FirmwareSettings, attach_controller_firmware
from tests.integration.uplink.conftest import UPSTREAM_PASSWORD, uplink_config
from tests.unit.update.support import Device, bundle_bytes, new_key, payloads, write_public
from tests.unit.update.test_service import service_for

CTL = "evsite-ctl"


class FileServer:
    """HTTPS (or plain HTTP) on 127.0.0.1 serving files from a dict."""

    def __init__(self, files: dict[str, bytes], cert: Path | None, key: Path | None) -> None:
        outer = self
        self.files = files
        self.requests: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.scheme = "http"
        if cert is not None and key is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Site:
    """A running controller with firmware handling, its CSMS, a device and a file server."""

    controller: Controller
    csms: SimCsms
    pki: SimPki
    device: Device
    service: UpdateService
    firmware: ControllerFirmware
    files: FileServer
    reboots: list[str]

    def statuses(self, action: str = "FirmwareStatusNotification") -> list[str]:
        return [r.payload["status"] for r in self.csms.calls(CTL, action)]

    async def wait_status(self, status: str, action: str = "FirmwareStatusNotification") -> None:
        await wait_until(lambda: status in self.statuses(action), timeout=20)


@pytest.fixture
def pki(tmp_path: Path) -> SimPki:
    return SimPki(tmp_path / "pki")


@pytest.fixture
async def csms(pki: SimPki) -> AsyncIterator[SimCsms]:
    cert, key = pki.issue("csms", "localhost")
    server = SimCsms(cert, key, passwords={CTL: UPSTREAM_PASSWORD})
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def files(pki: SimPki) -> Iterator[FileServer]:
    cert, key = pki.issue("files", "localhost")
    server = FileServer({}, cert, key)
    yield server
    server.close()


async def make_site(
    tmp_path: Path,
    csms: SimCsms,
    pki: SimPki,
    files: FileServer,
    settings: FirmwareSettings | None = None,
) -> Site:
    config = uplink_config(csms, pki, controller_id=CTL)
    controller = Controller(parse_settings(config), tmp_path / "data", SystemClock())
    controller.uplink.credentials.set_password(CTL, UPSTREAM_PASSWORD)
    await controller.start()
    device = Device(tmp_path / "device", new_key())
    reboots: list[str] = []
    service = service_for(device, reboot=lambda: reboots.append("trial"))
    firmware = attach_controller_firmware(
        controller.uplink,
        service,
        audit=controller.audit,
        clock=SystemClock(),
        settings=settings or FirmwareSettings(timeout_s=10),
        reboot=lambda: reboots.append("plain"),
    )
    assert firmware is not None
    await wait_until(lambda: CTL in csms.points, timeout=20)
    return Site(controller, csms, pki, device, service, firmware, files, reboots)


@pytest.fixture
async def site(
    tmp_path: Path, csms: SimCsms, pki: SimPki, files: FileServer
) -> AsyncIterator[Site]:
    made = await make_site(tmp_path, csms, pki, files)
    yield made
    await made.firmware.wait_idle()
    await made.controller.stop()
    made.controller.db.close()


def now() -> str:
    return iso_utc(SystemClock().now())


def signing_material(pki: SimPki, data: bytes, tamper: bool = False) -> dict[str, str]:
    cert, key_path = pki.issue("fw-signer", "evsite firmware signing", client=True)
    key = load_pem_private_key(key_path.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    signature = key.sign(data + (b"x" if tamper else b""), ec.ECDSA(hashes.SHA256()))
    return {
        "signing_certificate": cert.read_text(),
        "signature": base64.b64encode(signature).decode(),
    }


async def test_update_firmware_downloads_over_https_installs_and_waits_for_reset(
    site: Site,
) -> None:
    site.files.files["/evsite-1.1.0.bundle"] = bundle_bytes(site.device.key, payloads(seed=21))
    answer = await site.csms.send(
        CTL,
        call.UpdateFirmware(location=site.files.url("/evsite-1.1.0.bundle"), retrieve_date=now()),
    )
    assert answer is not None
    await site.wait_status("Installed")
    assert site.statuses() == ["Downloading", "Downloaded", "Installing", "Installed"]
    status = site.service.update_status()
    assert status.reboot_pending and status.pending_version == "1.1.0"
    job = status.job
    assert job is not None and (job.origin, job.actor) == ("ocpp", CTL)
    assert site.reboots == []  # the CSMS decides when
    reset = await site.csms.send(CTL, call.Reset(type="Hard"))
    assert reset.status == "Accepted"
    await wait_until(lambda: site.reboots == ["trial"], timeout=10)
    events = [r.event for r in site.controller.audit.records(event_prefix="uplink.firmware")]
    assert events == ["uplink.firmware_requested"]
    installer_events = [e for e, _, _ in site.device.audit_events()]
    assert installer_events[-2:] == ["update.installed", "update.reboot_requested"]


async def test_signed_update_firmware_reports_each_step_with_its_request_id(site: Site) -> None:
    data = bundle_bytes(site.device.key, payloads(seed=22))
    site.files.files["/signed.bundle"] = data
    firmware = {
        "location": site.files.url("/signed.bundle"),
        "retrieve_date_time": now(),
        **signing_material(site.pki, data),
    }
    answer = await site.csms.send(CTL, call.SignedUpdateFirmware(request_id=7, firmware=firmware))
    assert answer.status == "Accepted"
    action = "SignedFirmwareStatusNotification"
    await site.wait_status("Installed", action)
    assert site.statuses(action) == [
        "Downloading",
        "Downloaded",
        "SignatureVerified",
        "Installing",
        "Installed",
    ]
    assert {r.payload["requestId"] for r in site.csms.calls(CTL, action)} == {7}
    assert site.service.update_status().reboot_pending


async def test_a_wrong_ocpp_signature_stops_before_the_install_and_is_a_security_event(
    site: Site,
) -> None:
    data = bundle_bytes(site.device.key, payloads(seed=23))
    site.files.files["/signed.bundle"] = data
    firmware = {
        "location": site.files.url("/signed.bundle"),
        "retrieve_date_time": now(),
        **signing_material(site.pki, data, tamper=True),
    }
    answer = await site.csms.send(CTL, call.SignedUpdateFirmware(request_id=8, firmware=firmware))
    assert answer.status == "Accepted"
    action = "SignedFirmwareStatusNotification"
    await site.wait_status("InvalidSignature", action)
    await site.firmware.wait_idle()
    assert "Installing" not in site.statuses(action)
    assert not site.service.update_status().reboot_pending
    await wait_until(
        lambda: any(
            r.payload["type"] == "InvalidFirmwareSignature"
            for r in site.csms.calls(CTL, "SecurityEventNotification")
        ),
        timeout=20,
    )


async def test_a_bad_signing_certificate_is_answered_invalid_certificate(site: Site) -> None:
    firmware = {
        "location": site.files.url("/none.bundle"),
        "retrieve_date_time": now(),
        "signing_certificate": "-----BEGIN CERTIFICATE-----\nnot one\n-----END CERTIFICATE-----",
        "signature": "AAAA",
    }
    answer = await site.csms.send(CTL, call.SignedUpdateFirmware(request_id=9, firmware=firmware))
    assert answer.status == "InvalidCertificate"
    assert site.files.requests == [] and site.service.update_job() is None


async def test_a_bundle_our_key_did_not_sign_fails_installation_verification(site: Site) -> None:
    data = bundle_bytes(new_key(), payloads(seed=24))  # not a key the device trusts
    site.files.files["/foreign.bundle"] = data
    firmware = {
        "location": site.files.url("/foreign.bundle"),
        "retrieve_date_time": now(),
        **signing_material(site.pki, data),
    }
    await site.csms.send(CTL, call.SignedUpdateFirmware(request_id=10, firmware=firmware))
    action = "SignedFirmwareStatusNotification"
    await site.wait_status("InstallVerificationFailed", action)
    assert "SignatureVerified" in site.statuses(action)  # the OCPP signature alone is not enough
    job = site.service.update_job()
    assert job is not None and job.reason == "unknown-key"
    assert not site.service.update_status().reboot_pending


async def test_self_signed_and_plain_http_locations_are_refused(
    site: Site, pki: SimPki, tmp_path: Path
) -> None:
    data = bundle_bytes(site.device.key, payloads(seed=25))
    cert, key = pki.issue("rogue", "localhost", self_signed=True)
    rogue = FileServer({"/b.bundle": data}, cert, key)
    plain = FileServer({"/b.bundle": data}, None, None)
    try:
        await site.csms.send(
            CTL, call.UpdateFirmware(location=rogue.url("/b.bundle"), retrieve_date=now())
        )
        await site.wait_status("DownloadFailed")
        await site.firmware.wait_idle()
        await site.csms.send(
            CTL, call.UpdateFirmware(location=plain.url("/b.bundle"), retrieve_date=now())
        )
        await wait_until(lambda: site.statuses().count("DownloadFailed") == 2, timeout=20)
        await site.firmware.wait_idle()
    finally:
        rogue.close()
        plain.close()
    assert plain.requests == [], "nothing is fetched over plain http"
    assert "Installing" not in site.statuses()
    reasons = [
        r.detail["reason"]
        for r in site.controller.audit.records(event_prefix="uplink.firmware_download_failed")
    ]
    assert any("certificate" in r for r in reasons) and any("https://" in r for r in reasons)
    assert not site.service.update_status().reboot_pending


async def test_auto_reboot_after_the_install(
    tmp_path: Path, csms: SimCsms, pki: SimPki, files: FileServer
) -> None:
    site = await make_site(tmp_path, csms, pki, files, FirmwareSettings(auto_reboot=True))
    try:
        data = bundle_bytes(site.device.key, payloads(seed=26))
        files.files["/auto.bundle"] = data
        firmware = {
            "location": files.url("/auto.bundle"),
            "retrieve_date_time": now(),
            **signing_material(pki, data),
        }
        await csms.send(CTL, call.SignedUpdateFirmware(request_id=11, firmware=firmware))
        await wait_until(lambda: site.reboots == ["trial"], timeout=20)
        assert site.statuses("SignedFirmwareStatusNotification")[-2:] == [
            "Installed",
            "InstallRebooting",
        ]
    finally:
        await site.firmware.wait_idle()
        await site.controller.stop()
        site.controller.db.close()


# --- defaults of `evsite sim` ---------------------------------------------------------


def test_the_simulator_installs_dev_signed_bundles_and_reboots_into_them(tmp_path: Path) -> None:
    key = new_key()
    dev_key = write_public(key, tmp_path / "signing.pub")
    data_dir = tmp_path / "run"
    clock = FakeClock()
    audit = AuditLog(open_database(data_dir), clock)
    platform: list[str] = []
    service = build_update_service_for(
        {},
        data_dir,
        audit,
        clock,
        lambda: platform.append("reboot"),
        simulated=True,
        dev_key=dev_key,
        running_version="0.1.0",
    )
    assert isinstance(service, UpdateService)
    before = service.update_status()
    assert (before.booted_slot, before.other_slot_state) == ("A", "unbootable")
    assert (data_dir / "sim-update" / "slots" / "rootfs_b").stat().st_size == 2 * 1024**3
    bundle = bundle_bytes(
        key,
        payloads(seed=31),
        compatible="cm4",
        build="development",
        version="0.2.0",
        min_version="0.1.0",
    )
    upload = service.reserve("web", len(bundle), actor="admin")
    upload.write_bytes(bundle)
    service.submit(upload, actor="admin").result(timeout=20)
    assert service.update_status().reboot_pending
    service.reboot_into_update(actor="admin", source="")
    after = service.update_status()
    assert platform == ["reboot"]
    assert (after.booted_slot, after.other_slot, after.other_slot_state) == ("B", "A", "fallback")
    assert not after.reboot_pending and after.min_version == "0.1.0"


def test_without_a_dev_key_the_simulator_runs_with_updates_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    audit = AuditLog(open_database(tmp_path / "run"), clock)
    missing = tmp_path / "nowhere" / "signing.pub"
    with caplog.at_level(logging.WARNING, logger="evsite.update"):
        system = build_update_for(
            {}, tmp_path / "run", audit, clock, lambda: None, simulated=True, dev_key=missing
        )
    assert system is None
    assert "updates are off in the simulator" in caplog.text and str(missing) in caplog.text
    off = build_update_service_for(
        {}, tmp_path / "run", audit, clock, lambda: None, simulated=True, dev_key=missing
    )
    assert isinstance(off, UnavailableUpdates) and not off.update_status().available


def test_on_the_device_the_update_table_is_used_as_is(tmp_path: Path) -> None:
    clock = FakeClock()
    audit = AuditLog(open_database(tmp_path / "run"), clock)
    assert (
        build_update_for({}, tmp_path / "run", audit, clock, lambda: None, simulated=False) is None
    )
    with pytest.raises(ConfigError) as bad:
        build_update_for(
            {"update": {"bootchooser": "grub"}},
            tmp_path / "run",
            audit,
            clock,
            lambda: None,
            simulated=False,
        )
    assert bad.value.key == "update.bootchooser"
    # A missing keyring on the device turns updates off (the controller keeps running).
    table = {
        "board": "cm4",
        "keyring": str(tmp_path / "missing-keyring"),
        "bootchooser": "sim",
        "slot_writer": "file",
    }
    assert (
        build_update_for(
            {"update": table}, tmp_path / "run", audit, clock, lambda: None, simulated=False
        )
        is None
    )
