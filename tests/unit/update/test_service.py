"""UpdateService: one update at a time, installed in a background thread, progress kept,
reboot only into an armed trial. A simulated device: file slots, the simulated
bootchooser, a real audit log, bundles signed with a key made at test time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from evsite.platform import PlatformError
from evsite.update.errors import BundleRejected
from evsite.update.service import UnavailableUpdates, UpdateRefused, UpdateService
from evsite.update.slot import FileSlotWriter, Slot, SlotSink
from evsite.update.system import UpdateSystem
from tests.unit.update.support import Device, bundle_bytes, new_key, payloads

MiB = 1024 * 1024


def service_for(
    device: Device,
    *,
    writer: object | None = None,
    reboot: Callable[[], None] | None = None,
    max_bytes: int = 16 * MiB,
    free: int = 10**12,
) -> UpdateService:
    """An UpdateService over the simulated device."""
    system = UpdateSystem(
        device.installer(writer=writer),  # type: ignore[arg-type]
        device.confirmer(),
        device.bootchooser,
        device.state,
        device.keyring(),
        device.cmdline,
    )
    return UpdateService(
        system,
        work_dir=device.root / "data" / "incoming",
        clock=device.clock,
        audit=device.audit,
        reboot=reboot or (lambda: None),
        running_version=device.running_version,
        max_bundle_bytes=max_bytes,
        reserve_bytes=MiB,
        free_space=lambda _p: free,
    )


def receive(service: UpdateService, data: bytes, actor: str = "admin") -> Path:
    path = service.reserve("web", len(data), actor=actor, source="192.0.2.1", name="x.bundle")
    path.write_bytes(data)
    return path


class GatedWriter:
    """Writes files, but holds the first write until the test opens the gate."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.started = threading.Event()
        self._files = FileSlotWriter()

    def open(self, slot: Slot, size: int) -> SlotSink:
        sink = self._files.open(slot, size)
        outer = self

        class Sink:
            def write(self, chunk: bytes) -> None:
                outer.started.set()
                assert outer.gate.wait(10)
                sink.write(chunk)

            def finish(self) -> str | None:
                return sink.finish()

            def abort(self) -> None:
                sink.abort()

        return Sink()


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def test_a_good_bundle_is_installed_in_the_background_and_arms_the_trial(tmp_path: Path) -> None:
    device = Device(tmp_path, new_key())
    service = service_for(device)
    before = service.update_status()
    assert (before.booted_slot, before.other_slot, before.other_slot_state) == (
        "A",
        "B",
        "unbootable",
    )
    assert not before.reboot_pending and before.job is None
    body = payloads(seed=3)
    upload = receive(service, bundle_bytes(device.key, body))
    assert service.update_job().phase == "receiving"  # type: ignore[union-attr]
    seen: list[str] = []
    future = service.submit(upload, actor="admin", source="192.0.2.1")
    result = future.result(timeout=20)
    seen.append(service.update_job().phase)  # type: ignore[union-attr]
    status = service.update_status()
    assert result.slot == "B" and status.job is not None
    assert (status.job.phase, status.job.version, status.job.slot) == ("installed", "1.1.0", "B")
    assert status.reboot_pending and status.pending_version == "1.1.0"
    assert (status.other_slot_state, status.other_slot_version) == ("trial", "1.1.0")
    assert not upload.exists(), "the received bundle is deleted after the install"
    assert [e for e, _, _ in device.audit_events()][-1] == "update.installed"


def test_progress_goes_through_verify_and_write(tmp_path: Path) -> None:
    device = Device(tmp_path, new_key())
    writer = GatedWriter()
    service = service_for(device, writer=writer)
    future = service.submit(
        receive(service, bundle_bytes(device.key, payloads())), actor="a", source=""
    )
    wait_for(lambda: getattr(service.update_job(), "phase", "") == "write")
    job = service.update_job()
    assert job is not None and job.active and job.total > 0 and job.done < job.total
    writer.gate.set()
    future.result(timeout=20)
    job = service.update_job()
    assert job is not None and job.phase == "installed" and job.done == job.total


def test_a_second_update_is_refused_while_one_is_received_or_installed(tmp_path: Path) -> None:
    device = Device(tmp_path, new_key())
    writer = GatedWriter()
    service = service_for(device, writer=writer)
    data = bundle_bytes(device.key, payloads())
    first = receive(service, data, actor="alice")
    with pytest.raises(UpdateRefused) as refused:
        service.reserve("ocpp", 100, actor="csms")
    assert refused.value.code == "busy" and "alice" in refused.value.message
    future = service.submit(first, actor="alice", source="")
    wait_for(lambda: getattr(service.update_job(), "phase", "") == "write")
    with pytest.raises(UpdateRefused) as refused:
        service.begin_update_upload(100, actor="bob", source="")
    assert refused.value.code == "busy" and "being written" in refused.value.message
    with pytest.raises(UpdateRefused):
        service.reboot_into_update(actor="bob", source="")
    writer.gate.set()
    future.result(timeout=20)
    # Done: the next one may come (it is then refused by the installer: trial not committed
    # is fine here, B is the target again and it is not the running slot).
    service.abandon(service.reserve("web", 10, actor="bob"), "upload-interrupted", "test")


def test_a_tampered_bundle_fails_with_the_installers_reason_and_nothing_is_armed(
    tmp_path: Path,
) -> None:
    device = Device(tmp_path, new_key())
    service = service_for(device)
    data = bytearray(bundle_bytes(device.key, payloads()))
    data[-5] ^= 0xFF  # a payload byte: the manifest still verifies, the hash does not
    future = service.submit(receive(service, bytes(data)), actor="admin", source="192.0.2.1")
    with pytest.raises(BundleRejected):
        future.result(timeout=20)
    status = service.update_status()
    assert status.job is not None and status.job.phase == "failed"
    assert status.job.reason == "payload-hash-mismatch" and "SHA-256" in status.job.message
    assert not status.reboot_pending and status.other_slot_state == "unbootable"
    rejected = [d for e, _, d in device.audit_events() if e == "update.rejected"]
    assert rejected and rejected[-1]["reason"] == "payload-hash-mismatch"


def test_a_bundle_signed_by_an_unknown_key_fails_before_anything_is_written(
    tmp_path: Path,
) -> None:
    device = Device(tmp_path, new_key())
    service = service_for(device)
    future = service.submit(
        receive(service, bundle_bytes(new_key(), payloads())), actor="admin", source=""
    )
    with pytest.raises(BundleRejected):
        future.result(timeout=20)
    job = service.update_job()
    assert job is not None and (job.phase, job.reason) == ("failed", "unknown-key")
    assert service.update_status().other_slot_state == "unbootable"


def test_too_large_and_no_space_are_refused_before_a_file_is_made(tmp_path: Path) -> None:
    device = Device(tmp_path, new_key())
    service = service_for(device, max_bytes=MiB, free=3 * MiB)
    incoming = device.root / "data" / "incoming"
    with pytest.raises(UpdateRefused) as refused:
        service.reserve("web", MiB + 1, actor="a")
    assert refused.value.code == "too-large"
    big = service_for(device, max_bytes=100 * MiB, free=3 * MiB)
    with pytest.raises(UpdateRefused) as refused:
        big.reserve("web", 50 * MiB, actor="a")
    assert refused.value.code == "no-space"
    assert list(incoming.iterdir()) == []
    assert service.update_job() is None


def test_an_abandoned_upload_is_deleted_recorded_and_audited(tmp_path: Path) -> None:
    device = Device(tmp_path, new_key())
    service = service_for(device)
    path = service.reserve("web", 1000, actor="admin", source="192.0.2.9")
    path.write_bytes(b"x" * 10)
    service.abandon(path, "upload-interrupted", "the upload stopped after 10 of 1000 bytes")
    assert not path.exists()
    job = service.update_job()
    assert job is not None and (job.phase, job.reason) == ("failed", "upload-interrupted")
    assert device.audit_events()[-1][:2] == ("update.upload_failed", "refused")
    with pytest.raises(UpdateRefused) as refused:
        service.submit(path, actor="admin")
    assert refused.value.code == "unknown-upload"


def test_reboot_only_into_an_armed_trial_and_audited(tmp_path: Path) -> None:
    device = Device(tmp_path, new_key())
    reboots: list[int] = []
    service = service_for(device, reboot=lambda: reboots.append(1))
    with pytest.raises(UpdateRefused) as refused:
        service.reboot_into_update(actor="admin", source="")
    assert refused.value.code == "no-trial" and reboots == []
    upload = receive(service, bundle_bytes(device.key, payloads()))
    service.submit(upload, actor="admin", source="").result(timeout=20)
    service.reboot_into_update(actor="admin", source="192.0.2.1")
    assert reboots == [1]
    event, _, detail = device.audit_events()[-1]
    assert event == "update.reboot_requested" and detail == {"slot": "B", "version": "1.1.0"}


def test_a_device_that_does_not_reboot_is_a_clear_refusal_and_the_trial_stays(
    tmp_path: Path,
) -> None:
    device = Device(tmp_path, new_key())

    def refuse() -> None:
        raise PlatformError("helper reboot failed (exit 1): systemd is not running")

    service = service_for(device, reboot=refuse)
    upload = receive(service, bundle_bytes(device.key, payloads()))
    service.submit(upload, actor="admin", source="").result(timeout=20)
    with pytest.raises(UpdateRefused) as refused:
        service.reboot_into_update(actor="admin", source="")
    assert (
        refused.value.code == "reboot-failed" and "systemd is not running" in refused.value.message
    )
    assert device.audit_events()[-1][0] == "update.reboot_failed"
    assert service.update_status().reboot_pending


def test_an_unexpected_install_error_is_reported_not_swallowed(tmp_path: Path) -> None:
    class Broken:
        def open(self, slot: Slot, size: int) -> SlotSink:
            raise RuntimeError("driver bug")

    device = Device(tmp_path, new_key())
    service = service_for(device, writer=Broken())
    upload = receive(service, bundle_bytes(device.key, payloads()))
    with pytest.raises(RuntimeError):
        service.submit(upload, actor="admin").result(timeout=20)
    job = service.update_job()
    assert job is not None and (job.phase, job.reason) == ("failed", "internal-error")
    assert not upload.exists()
    assert device.audit_events()[-1][:2] == ("update.rejected", "error")


def test_leftovers_of_an_interrupted_upload_are_removed_at_start(tmp_path: Path) -> None:
    device = Device(tmp_path, new_key())
    incoming = device.root / "data" / "incoming"
    incoming.mkdir(parents=True)
    (incoming / "incoming-abc.bundle").write_bytes(b"half")
    (incoming / "keep.txt").write_bytes(b"not ours")
    service_for(device)
    assert sorted(p.name for p in incoming.iterdir()) == ["keep.txt"]


def test_unavailable_updates_say_why_and_refuse_everything(tmp_path: Path) -> None:
    off = UnavailableUpdates("no trusted key", "0.1.0")
    status = off.update_status()
    assert not status.available and status.note == "no trusted key"
    with pytest.raises(UpdateRefused) as refused:
        off.begin_update_upload(10, actor="a", source="")
    assert refused.value.code == "unavailable"
    with pytest.raises(UpdateRefused):
        off.reboot_into_update(actor="a", source="")
