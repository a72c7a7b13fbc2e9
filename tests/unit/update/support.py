"""A simulated device for update tests: file slots, the simulated bootchooser, the boot
script model, a real audit log, and bundles signed with keys made at test time."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from evsite.clock import FakeClock
from evsite.store.audit import AuditLog
from evsite.store.db import open_database
from evsite.update.bootchooser import Bootchooser, FileBootchooser
from evsite.update.bootscript import BootDecision, simulated_reboot
from evsite.update.bundle import frame
from evsite.update.install import Installer, InstallPolicy
from evsite.update.keyring import Keyring
from evsite.update.mark import BootConfirmer, RebootAction
from evsite.update.signature import key_id, sign_manifest
from evsite.update.slot import FileSlotWriter, Slot, SlotTable, SlotWriter, read_booted_slot
from evsite.update.state import StateStore, UpdateState

BOARD = "qemu-arm64"
SLOT_SIZES = {"boot": 64 * 1024, "rootfs": 1024 * 1024}
REPO = Path(__file__).resolve().parents[3]
HELPER_DIR = REPO / "rootfs-overlay/usr/libexec/evsite"
# Runs a helper script without sudo, passing test-only keyword arguments (paths) to main().
HELPER_LAUNCHER = (
    "import importlib.machinery, importlib.util, json, pathlib, sys\n"
    "loader = importlib.machinery.SourceFileLoader('helper', sys.argv[1])\n"
    "spec = importlib.util.spec_from_loader('helper', loader)\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "loader.exec_module(module)\n"
    "kwargs = {k: pathlib.Path(v) for k, v in json.loads(sys.argv[2]).items()}\n"
    "sys.exit(module.main(sys.argv[3:], **kwargs))\n"
)


def helper_command(name: str, **paths: Path) -> list[str]:
    """The argv that runs helper `name` as the app would through sudo, with test paths."""
    return [
        sys.executable,
        "-c",
        HELPER_LAUNCHER,
        str(HELPER_DIR / name),
        json.dumps({k: str(v) for k, v in paths.items()}),
    ]


def new_key() -> Ed25519PrivateKey:
    """A fresh signing key (made at test time; never stored in the repository)."""
    return Ed25519PrivateKey.generate()


def write_public(key: Ed25519PrivateKey, path: Path) -> Path:
    """Write the public half as a keyring .pub file."""
    path.write_bytes(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    return path


def manifest_dict(bodies: Mapping[str, bytes], /, **overrides: Any) -> dict[str, Any]:
    """A valid manifest for these payloads, with fields overridden."""
    data: dict[str, Any] = {
        "format": 1,
        "product": "evsite",
        "compatible": BOARD,
        "version": "1.1.0",
        "min_version": "1.0.0",
        "build": "release",
        "payloads": [
            {"name": n, "size": len(b), "sha256": hashlib.sha256(b).hexdigest()}
            for n, b in bodies.items()
        ],
        "revoked_keys": [],
    }
    data.update(overrides)
    return data


def bundle_bytes(
    key: Ed25519PrivateKey,
    bodies: Mapping[str, bytes],
    /,
    *,
    manifest: bytes | None = None,
    **overrides: Any,
) -> bytes:
    """A signed bundle in memory (manifest bytes may be given raw, for hostile cases)."""
    manifest_bytes = (
        manifest
        if manifest is not None
        else json.dumps(manifest_dict(bodies, **overrides)).encode()
    )
    block = sign_manifest(key, manifest_bytes).to_bytes()
    return frame(manifest_bytes, block) + b"".join(bodies.values())


def payloads(seed: int = 1, rootfs: int = 300_000, boot: int = 20_000) -> dict[str, bytes]:
    """Deterministic pseudo-random payloads."""

    def data(n: int, tag: bytes) -> bytes:
        out = bytearray()
        block = hashlib.sha256(tag + seed.to_bytes(4, "big")).digest()
        while len(out) < n:
            block = hashlib.sha256(block).digest()
            out += block * 64
        return bytes(out[:n])

    return {"boot": data(boot, b"boot"), "rootfs": data(rootfs, b"rootfs")}


@dataclass
class Device:
    """One simulated device in a directory."""

    root: Path
    key: Ed25519PrivateKey
    clock: FakeClock = field(default_factory=FakeClock)
    running_version: str = "1.0.0"
    allow_development: bool = False
    reboots: int = 0

    def __post_init__(self) -> None:
        (self.root / "slots").mkdir(parents=True, exist_ok=True)
        (self.root / "keyring").mkdir(exist_ok=True)
        write_public(self.key, self.root / "keyring" / f"{key_id(self.key.public_key())}.pub")
        self.db = open_database(self.root / "data")
        self.audit = AuditLog(self.db, self.clock)
        self.state = StateStore(self.root / "data" / "update")
        self.env = self.root / "bootenv"
        self.cmdline = self.root / "cmdline"
        self.slots = SlotTable(
            [
                Slot(f"{c}.{b}", self.root / "slots" / f"{c}_{b.lower()}", size)
                for b in ("A", "B")
                for c, size in SLOT_SIZES.items()
            ]
        )
        for slot in self.slots.all():
            slot.path.write_bytes(f"image {slot.name} ".encode() * (slot.size // 16))
        # As the image ships: A installed and first, B empty and out of the order.
        FileBootchooser(self.env).write_env(
            {"BOOT_ORDER": "A", "BOOT_A_LEFT": "3", "BOOT_B_LEFT": "0"}
        )
        self.state.save(UpdateState(versions={"A": "1.0.0"}))
        self.boot()

    @property
    def bootchooser(self) -> FileBootchooser:
        """The simulated bootchooser over the env file."""
        return FileBootchooser(self.env)

    def keyring(self) -> Keyring:
        """The device keyring as on disk now."""
        return Keyring.load(self.root / "keyring")

    def booted(self) -> str | None:
        """The slot running now."""
        return read_booted_slot(self.cmdline)

    def boot(self) -> BootDecision:
        """Power on / reboot: the boot script model picks and boots a slot."""
        return simulated_reboot(self.env, self.cmdline)

    def installer(
        self, *, writer: SlotWriter | None = None, bootchooser: Bootchooser | None = None
    ) -> Installer:
        """An installer wired to this device."""
        return Installer(
            slots=self.slots,
            writer=writer or FileSlotWriter(),
            bootchooser=bootchooser or self.bootchooser,
            keyring=self.keyring(),
            state=self.state,
            audit=self.audit,
            clock=self.clock,
            booted_slot=self.booted,
            policy=InstallPolicy(BOARD, self.running_version, self.allow_development),
        )

    def confirmer(self, reboot: RebootAction | None = None) -> BootConfirmer:
        """A mark-good confirmer wired to this device; counts reboots it asks for."""

        def count() -> None:
            self.reboots += 1

        return BootConfirmer(
            bootchooser=self.bootchooser,
            state=self.state,
            audit=self.audit,
            clock=self.clock,
            booted_slot=self.booted,
            reboot=reboot or count,
        )

    def write_bundle(self, data: bytes, name: str = "update.bundle") -> Path:
        """Put bundle bytes where an upload would land."""
        path = self.root / name
        path.write_bytes(data)
        return path

    def slot_bytes(self, bootname: str) -> dict[str, bytes]:
        """The content of each slot of one side."""
        return {c: s.path.read_bytes() for c, s in self.slots.group(bootname).items()}

    def audit_events(self, prefix: str = "update.") -> list[tuple[str, str, dict[str, Any]]]:
        """(event, outcome, detail) of the audit records so far."""
        return [(r.event, r.outcome, r.detail) for r in self.audit.records(event_prefix=prefix)]


def slot_holds(device: Device, bootname: str, data: Mapping[str, bytes]) -> bool:
    """True when each slot of the side starts with its payload."""
    current = device.slot_bytes(bootname)
    return all(current[name].startswith(body) for name, body in data.items())


def run_probes_ok() -> dict[str, Any]:
    """Probes that all pass."""
    return {"app": lambda: True, "self_test": lambda: True}


def cut(values: Sequence[int], n: int) -> list[int]:
    """Up to n evenly spread values (to keep parametrised power-cut cases few)."""
    step = max(1, len(values) // n)
    return list(values[::step])[:n]
