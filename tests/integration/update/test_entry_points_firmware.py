"""The controller's firmware handler on its own: schedules, retries, replacement, refusal
while installing, size bound, settings. Real HTTPS file server on 127.0.0.1 with the
test CA, the real UpdateService on a simulated device; the notifications are collected
instead of journaled, and time moves only when the handler waits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from evsite.clock import FakeClock, iso_utc
from evsite.config_errors import ConfigError
from evsite.ocpp.frames import Call
from evsite.sim.csms import SimPki, wait_until
from evsite.update.service import UpdateService
from evsite.uplink.firmware import ControllerFirmware, FirmwareSettings, parse_firmware_settings
from evsite.uplink.tls import client_context
from tests.integration.update.test_entry_points import FileServer
from tests.unit.update.support import Device, bundle_bytes, new_key, payloads
from tests.unit.update.test_service import GatedWriter, service_for


class Harness:
    """A ControllerFirmware with collected notifications and a clock that jumps on sleep."""

    def __init__(self, tmp: Path, pki: SimPki, files: FileServer, **service: Any) -> None:
        self.clock = FakeClock(datetime.now(UTC))
        self.device = Device(tmp / "device", new_key(), clock=self.clock)
        self.service: UpdateService = service_for(self.device, **service)
        self.files = files
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.slept: list[float] = []
        self.gate: asyncio.Event | None = None
        # The handler's own audit records, kept apart from the device's audit log: that
        # one's head file is not safe for two threads recording at once (reported).
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.on_sleep: list[Any] = []
        self.firmware = ControllerFirmware(
            self.service,
            self.notify,
            identity="ctl",
            tls=lambda: client_context(pki.ca, False),
            audit=self,
            clock=self.clock,
            settings=FirmwareSettings(timeout_s=10),
            sleep=self.sleep,
        )
        self._ids = 0

    def record(
        self,
        event: str,
        *,
        actor: str = "system",
        source: str = "",
        outcome: str = "ok",
        detail: Any = None,
    ) -> None:
        self.events.append((event, dict(detail or {})))

    async def notify(self, action: str, payload: dict[str, Any]) -> None:
        self.sent.append((action, payload))

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        for hook in self.on_sleep:
            hook()
        if self.gate is not None:
            await self.gate.wait()
        self.clock.advance(seconds)

    def statuses(self) -> list[str]:
        return [p["status"] for _, p in self.sent]

    async def call(self, action: str, payload: dict[str, Any]) -> list[Any]:
        self._ids += 1
        raw = json.dumps([2, f"m{self._ids}", action, payload])
        reply = await self.firmware.handle(Call(f"m{self._ids}", action, payload, raw))
        assert reply is not None
        answer: list[Any] = json.loads(reply)
        return answer

    def update(self, path: str, *, at: datetime | None = None, **extra: Any) -> dict[str, Any]:
        when = at or self.clock.now()
        return {"location": self.files.url(path), "retrieveDate": iso_utc(when), **extra}


@pytest.fixture
def pki(tmp_path: Path) -> SimPki:
    return SimPki(tmp_path / "pki")


@pytest.fixture
def files(pki: SimPki) -> Iterator[FileServer]:
    cert, key = pki.issue("files", "localhost")
    server = FileServer({}, cert, key)
    yield server
    server.close()


async def test_a_later_retrieve_date_is_waited_for(
    tmp_path: Path, pki: SimPki, files: FileServer
) -> None:
    h = Harness(tmp_path, pki, files)
    files.files["/b.bundle"] = bundle_bytes(h.device.key, payloads())
    later = h.clock.now() + timedelta(hours=2)
    assert (await h.call("UpdateFirmware", h.update("/b.bundle", at=later)))[2] == {}
    await h.firmware.wait_idle()
    assert h.slept and 7199 <= h.slept[0] <= 7200
    assert h.statuses() == ["Downloading", "Downloaded", "Installing", "Installed"]


async def test_a_failed_download_is_retried_as_the_request_says(
    tmp_path: Path, pki: SimPki, files: FileServer
) -> None:
    h = Harness(tmp_path, pki, files)
    data = bundle_bytes(h.device.key, payloads())
    h.on_sleep.append(lambda: files.files.__setitem__("/late.bundle", data))  # there by retry
    await h.call("UpdateFirmware", h.update("/late.bundle", retries=2, retryInterval=30))
    await h.firmware.wait_idle()
    assert h.slept == [30]
    assert h.statuses() == ["Downloading", "Downloading", "Downloaded", "Installing", "Installed"]
    failed = [d for e, _, d in h.device.audit_events() if e == "update.upload_failed"]
    assert failed and "HTTP 404" in failed[0]["message"]


async def test_downloads_over_the_limit_fail_and_leave_nothing(
    tmp_path: Path, pki: SimPki, files: FileServer
) -> None:
    h = Harness(tmp_path, pki, files, max_bytes=100_000)
    files.files["/big.bundle"] = b"x" * 200_000
    await h.call("UpdateFirmware", h.update("/big.bundle"))
    await h.firmware.wait_idle()
    assert h.statuses() == ["Downloading", "DownloadFailed"]
    assert list((h.device.root / "data" / "incoming").iterdir()) == []
    failed = [d for e, _, d in h.device.audit_events() if e == "update.upload_failed"]
    assert "at most 100000" in failed[0]["message"]


async def test_a_newer_request_replaces_a_scheduled_one(
    tmp_path: Path, pki: SimPki, files: FileServer
) -> None:
    h = Harness(tmp_path, pki, files)
    files.files["/new.bundle"] = bundle_bytes(h.device.key, payloads(seed=2))
    h.gate = asyncio.Event()  # the first request waits for its retrieve time forever
    later = iso_utc(h.clock.now() + timedelta(days=1))
    first = {"location": files.url("/old.bundle"), "retrieveDate": later}
    await h.call("UpdateFirmware", first)
    await wait_until(lambda: bool(h.slept))
    h.gate = None
    await h.call("UpdateFirmware", h.update("/new.bundle"))
    await h.firmware.wait_idle()
    assert files.requests == ["/new.bundle"]
    assert h.service.update_status().pending_version == "1.1.0"


async def test_requests_while_installing_are_refused(
    tmp_path: Path, pki: SimPki, files: FileServer
) -> None:
    writer = GatedWriter()
    h = Harness(tmp_path, pki, files, writer=writer)
    files.files["/b.bundle"] = bundle_bytes(h.device.key, payloads())
    await h.call("UpdateFirmware", h.update("/b.bundle"))
    await wait_until(lambda: "Installing" in h.statuses())
    core = await h.call("UpdateFirmware", h.update("/b.bundle"))
    assert core[0] == 4 and "being installed" in core[3]
    reset = await h.call("Reset", {"type": "Soft"})
    assert reset[2] == {"status": "Rejected"}
    writer.gate.set()
    await h.firmware.wait_idle()
    assert h.statuses()[-1] == "Installed"


async def test_a_web_upload_in_progress_makes_the_download_fail(
    tmp_path: Path, pki: SimPki, files: FileServer
) -> None:
    h = Harness(tmp_path, pki, files)
    h.service.reserve("web", 10, actor="admin")
    files.files["/b.bundle"] = bundle_bytes(h.device.key, payloads())
    await h.call("UpdateFirmware", h.update("/b.bundle", retries=1, retryInterval=5))
    await h.firmware.wait_idle()
    assert h.statuses() == ["Downloading", "Downloading", "DownloadFailed"]
    assert files.requests == []
    assert h.events[-1][0] == "uplink.firmware_download_failed"
    assert "another update is being received" in h.events[-1][1]["reason"]


async def test_malformed_requests_get_a_callerror_and_other_actions_pass(
    tmp_path: Path, pki: SimPki, files: FileServer
) -> None:
    h = Harness(tmp_path, pki, files)
    reply = await h.call("UpdateFirmware", {"location": 5})
    assert reply[0] == 4
    assert await h.firmware.handle(Call("x", "GetDiagnostics", {}, "")) is None


def test_firmware_settings_fail_loudly() -> None:
    assert parse_firmware_settings({}) == FirmwareSettings()
    parsed = parse_firmware_settings({"firmware": {"auto_reboot": True, "signing_ca": "/x.pem"}})
    assert parsed.auto_reboot and parsed.signing_ca == Path("/x.pem")
    for table, key in (
        ({"auto_reboot": "yes"}, "firmware.auto_reboot"),
        ({"timeout_s": 0}, "firmware.timeout_s"),
        ({"signing_ca": ""}, "firmware.signing_ca"),
        ({"retry": 1}, "firmware.retry"),
    ):
        with pytest.raises(ConfigError) as bad:
            parse_firmware_settings({"firmware": table})
        assert bad.value.key == key
