"""Installing bundles: the happy path, the hostile corpus, and power cuts during the write."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

import pytest

from evsite.update.bootchooser import FileBootchooser
from evsite.update.errors import BundleRejected, Reason, UpdateError
from evsite.update.install import Progress
from evsite.update.manifest import MAX_PAYLOAD_BYTES
from evsite.update.signature import key_id
from evsite.update.slot import FileSlotWriter, Slot, SlotSink
from evsite.update.state import UpdateState
from tests.unit.update.support import (
    SLOT_SIZES,
    Device,
    bundle_bytes,
    manifest_dict,
    new_key,
    payloads,
    write_public,
)


@pytest.fixture
def device(tmp_path: Path) -> Device:
    return Device(tmp_path, new_key())


def test_install_writes_inactive_slot_and_arms_one_shot_trial(device: Device) -> None:
    data = payloads()
    seen: list[Progress] = []
    result = device.installer().install(
        device.write_bundle(bundle_bytes(device.key, data)),
        progress=seen.append,
        actor="admin",
        source="10.0.0.9",
    )
    assert result.slot == "B"
    assert device.slot_bytes("B")["rootfs"].startswith(data["rootfs"])
    assert device.slot_bytes("B")["boot"].startswith(data["boot"])
    state = device.bootchooser.state()
    assert state.order[0] == "B" and state.left["B"] == 1
    assert device.state.load().pending is not None
    writes = [p for p in seen if p.phase == "write"]
    assert seen[0].phase == "verify" and writes[-1].done == writes[-1].total
    assert [p.done for p in writes] == sorted(p.done for p in writes)
    events = [e for e, _, _ in device.audit_events()]
    assert events == ["update.install_started", "update.installed"]
    record = next(device.audit.records(event_prefix="update.installed"))
    assert (record.actor, record.source) == ("admin", "10.0.0.9")


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def hostile_corpus(device: Device) -> dict[str, tuple[bytes, Reason, bool]]:
    """name -> (bundle bytes, reason, rejected only after writing began)."""
    key, data = device.key, payloads()
    good = bundle_bytes(key, data)
    header_len = len(good) - sum(len(b) for b in data.values())
    other, revoked = new_key(), new_key()
    write_public(revoked, device.root / "keyring" / "old.pub")
    device.state.save(replace(device.state.load(), revoked_keys=(key_id(revoked.public_key()),)))
    manifest = json.dumps(manifest_dict(data)).encode()
    tampered = good.replace(b'"version": "1.1.0"', b'"version": "1.9.0"', 1)
    big = {"boot": data["boot"], "rootfs": b"x" * (SLOT_SIZES["rootfs"] + 1)}
    oversized = (
        json.dumps(manifest_dict(data))
        .replace(str(len(data["rootfs"])), str(MAX_PAYLOAD_BYTES + 1))
        .encode()
    )
    return {
        "bad signature": (_flip(good, header_len - 5), Reason.BAD_SIGNATURE, False),
        "unknown key": (bundle_bytes(other, data), Reason.UNKNOWN_KEY, False),
        "revoked key": (bundle_bytes(revoked, data), Reason.REVOKED_KEY, False),
        "manifest tampered": (tampered, Reason.BAD_SIGNATURE, False),
        "payload byte flipped": (_flip(good, len(good) - 1000), Reason.PAYLOAD_HASH_MISMATCH, True),
        "boot payload byte flipped": (
            _flip(good, header_len + 3),
            Reason.PAYLOAD_HASH_MISMATCH,
            True,
        ),
        "truncated": (good[:-100], Reason.TRUNCATED, False),
        "truncated in header": (good[: header_len - 30], Reason.TRUNCATED, False),
        "empty file": (b"", Reason.TRUNCATED, False),
        "extra trailing data": (good + b"\0", Reason.TRAILING_DATA, False),
        "bad magic": (b"X" + good[1:], Reason.BAD_MAGIC, False),
        "wrong board": (bundle_bytes(key, data, compatible="cm4"), Reason.WRONG_BOARD, False),
        "wrong product": (bundle_bytes(key, data, product="other"), Reason.WRONG_PRODUCT, False),
        "downgrade below minimum": (
            bundle_bytes(key, data, version="0.9.0", min_version="0.9.0"),
            Reason.DOWNGRADE,
            False,
        ),
        "needs newer running version": (
            bundle_bytes(key, data, version="2.0.0", min_version="1.5.0"),
            Reason.RUNNING_TOO_OLD,
            False,
        ),
        "development build": (
            bundle_bytes(key, data, build="development"),
            Reason.DEVELOPMENT_BUILD,
            False,
        ),
        "oversized payload": (
            bundle_bytes(key, data, manifest=oversized),
            Reason.OVERSIZED_PAYLOAD,
            False,
        ),
        "payload larger than slot": (
            bundle_bytes(key, big),
            Reason.PAYLOAD_TOO_LARGE_FOR_SLOT,
            False,
        ),
        "missing payload": (
            bundle_bytes(key, {"rootfs": data["rootfs"]}),
            Reason.SLOT_MISMATCH,
            False,
        ),
        "malformed manifest": (
            bundle_bytes(key, data, manifest=manifest[:-1]),
            Reason.MALFORMED_MANIFEST,
            False,
        ),
        "unknown manifest field": (
            bundle_bytes(key, data, extra="x"),
            Reason.MALFORMED_MANIFEST,
            False,
        ),
        "revokes every key": (
            bundle_bytes(key, data, revoked_keys=[key_id(key.public_key())]),
            Reason.REVOKES_ALL_KEYS,
            False,
        ),
        "signature block wrong size": (
            good[: header_len - 72 - 4] + (73).to_bytes(4, "big") + good[header_len - 72 :] + b"\0",
            Reason.MALFORMED_SIGNATURE,
            False,
        ),
    }


CASES = [
    "bad signature",
    "unknown key",
    "revoked key",
    "manifest tampered",
    "payload byte flipped",
    "boot payload byte flipped",
    "truncated",
    "truncated in header",
    "empty file",
    "extra trailing data",
    "bad magic",
    "wrong board",
    "wrong product",
    "downgrade below minimum",
    "needs newer running version",
    "development build",
    "oversized payload",
    "payload larger than slot",
    "missing payload",
    "malformed manifest",
    "unknown manifest field",
    "revokes every key",
    "signature block wrong size",
]


def test_every_corpus_case_is_exercised(device: Device) -> None:
    assert sorted(hostile_corpus(device)) == sorted(CASES)


@pytest.mark.parametrize("case", CASES)
def test_hostile_bundle_is_refused_audited_and_changes_nothing_bootable(
    device: Device, case: str
) -> None:
    device.state.save(replace(device.state.load(), min_version="1.0.0"))
    bundle, reason, wrote = hostile_corpus(device)[case]
    active_before = device.slot_bytes("A")
    inactive_before = device.slot_bytes("B")
    env_before = device.bootchooser.read_env()
    with pytest.raises(BundleRejected) as err:
        device.installer().install(device.write_bundle(bundle), source="192.0.2.7")
    assert err.value.reason is reason, err.value
    assert err.value.message
    rejected = [d for e, o, d in device.audit_events() if e == "update.rejected"]
    assert rejected and rejected[-1]["reason"] == reason.value
    assert {o for e, o, _ in device.audit_events() if e == "update.rejected"} == {"refused"}
    assert device.slot_bytes("A") == active_before
    state = device.bootchooser.state()
    assert "B" not in state.order and state.left["B"] == 0
    assert device.state.load().pending is None
    if not wrote:
        # Refused before a single payload byte was written anywhere; nothing changed at all.
        assert device.slot_bytes("B") == inactive_before
        assert device.bootchooser.read_env() == env_before
    assert device.boot().slot == "A"


def test_rotated_key_verifies_and_revocation_waits_for_commit(device: Device) -> None:
    new = new_key()
    write_public(new, device.root / "keyring" / "new.pub")
    old_id = key_id(device.key.public_key())
    bundle = bundle_bytes(new, payloads(), revoked_keys=[old_id])
    device.installer().install(device.write_bundle(bundle))
    # Not committed yet: the old key still verifies (the install can be redone with it).
    assert old_id not in device.state.load().revoked_keys
    device.installer().install(device.write_bundle(bundle_bytes(device.key, payloads(2))))


def test_install_refused_while_running_an_uncommitted_trial(device: Device) -> None:
    device.installer().install(device.write_bundle(bundle_bytes(device.key, payloads())))
    assert device.boot().slot == "B"
    with pytest.raises(UpdateError) as err:
        device.installer().install(device.write_bundle(bundle_bytes(device.key, payloads(3))))
    assert err.value.reason is Reason.TRIAL_PENDING
    assert device.slot_bytes("A")["rootfs"].startswith(b"image rootfs.A")


def test_unknown_booted_slot_refuses_install(device: Device) -> None:
    device.cmdline.write_text("console=ttyAMA0\n")
    with pytest.raises(UpdateError) as err:
        device.installer().install(device.write_bundle(bundle_bytes(device.key, payloads())))
    assert err.value.reason is Reason.BOOTED_SLOT_UNKNOWN


class PowerCut(BaseException):
    """The power went: nothing after this point runs, not even cleanup that touches disk."""


class CuttingWriter:
    """Writes slots for real, and loses power after `limit` bytes in total."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def open(self, slot: Slot, size: int) -> SlotSink:
        inner = FileSlotWriter().open(slot, size)
        writer = self

        class Sink:
            def write(self, chunk: bytes) -> None:
                take = min(len(chunk), writer.left)
                inner.write(chunk[:take])
                writer.left -= take
                if take < len(chunk):
                    raise PowerCut

            def finish(self) -> str | None:
                return inner.finish()

            def abort(self) -> None:
                inner.abort()

        return Sink()


@pytest.mark.parametrize("seed", range(8))
def test_power_cut_at_a_random_point_of_the_write_still_boots_the_old_slot(
    device: Device, seed: int
) -> None:
    data = payloads(rootfs=700_000)
    total = sum(len(b) for b in data.values())
    limit = random.Random(seed).randrange(0, total)
    with pytest.raises(PowerCut):
        device.installer(writer=CuttingWriter(limit)).install(
            device.write_bundle(bundle_bytes(device.key, data))
        )
    for _ in range(4):  # and keeps booting it, whatever the counters do
        assert device.boot().slot == "A"
        device.confirmer().mark_good()
    assert device.slot_bytes("A")["rootfs"].startswith(b"image rootfs.A")


class Cutter:
    """Counts durable writes (env and state) and cuts the power before write number `at`."""

    def __init__(self, at: int) -> None:
        self.at = at
        self.count = 0

    def tick(self) -> None:
        if self.count == self.at:
            raise PowerCut
        self.count += 1


def cutting_device(device: Device, cutter: Cutter) -> Callable[[], None]:
    """Make the device's env and state writes go through the cutter; return an undo."""
    original_env = FileBootchooser.write_env
    original_save = type(device.state).save

    def env_write(self: FileBootchooser, values: Mapping[str, str]) -> None:
        cutter.tick()
        original_env(self, values)

    def save(self: object, state: UpdateState) -> None:
        cutter.tick()
        original_save(self, state)  # type: ignore[arg-type]

    FileBootchooser.write_env = env_write  # type: ignore[method-assign]
    type(device.state).save = save  # type: ignore[method-assign]

    def undo() -> None:
        FileBootchooser.write_env = original_env  # type: ignore[method-assign]
        type(device.state).save = original_save  # type: ignore[method-assign]

    return undo


@pytest.mark.parametrize("at", range(5))
def test_power_cut_between_env_and_state_writes_boots_old_or_complete_new(
    device: Device, at: int
) -> None:
    device.confirmer().mark_good()
    data = payloads(seed=5)
    undo = cutting_device(device, Cutter(at))
    try:
        device.installer().install(device.write_bundle(bundle_bytes(device.key, data)))
        finished = True
    except PowerCut:
        finished = False
    finally:
        undo()
    booted = device.boot().slot
    if booted == "B":
        assert finished or device.state.load().pending is not None
        assert device.slot_bytes("B")["rootfs"].startswith(data["rootfs"])
    outcome = device.confirmer().mark_good()
    assert device.boot().slot == booted
    state = device.state.load()
    assert state.pending is None
    if booted == "A":
        assert outcome.value in ("confirmed", "rolled-back")
        assert state.versions.get("B") is None
    else:
        assert outcome.value == "committed" and state.versions["B"] == "1.1.0"


def test_second_concurrent_install_is_refused_as_busy(device: Device) -> None:
    import fcntl

    device.state.dir.mkdir(parents=True, exist_ok=True)
    with open(device.state.dir / "install.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(UpdateError) as err:
            device.installer().install(device.write_bundle(bundle_bytes(device.key, payloads())))
    assert err.value.reason is Reason.BUSY
    assert device.bootchooser.get_primary() == "A"
