"""Update install throughput against plain hashing and plain copying, and peak memory.

Install (read + SHA-256 + write + fsync, one pass) should cost at most ~10% more
than the slower of a bare SHA-256 pass and a bare copy (read + write + fsync)
over the same data in the same run: the writer thread overlaps the write with
the hashing. Peak RSS is measured in a child process per bundle size and
should not grow with the bundle.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from evsite.clock import SystemClock
from evsite.store.audit import AuditLog
from evsite.store.db import open_database
from evsite.update.bootchooser import FileBootchooser
from evsite.update.bundle import CHUNK_BYTES, build_bundle
from evsite.update.install import Installer, InstallPolicy
from evsite.update.keyring import Keyring
from evsite.update.slot import FileSlotWriter, Slot, SlotTable
from evsite.update.state import StateStore

MB = 1000 * 1000
ROUNDS = 3


def make_bundle(work: Path, size: int, key: Ed25519PrivateKey) -> Path:
    """A rootfs-only bundle with `size` bytes of random payload."""
    payload = work / f"rootfs-{size}.img"
    with open(payload, "wb") as f:
        left = size
        while left:
            n = min(CHUNK_BYTES, left)
            f.write(os.urandom(n))
            left -= n
    bundle = work / f"bench-{size}.bundle"
    build_bundle(
        bundle,
        key,
        compatible="bench",
        version="1.0",
        min_version="0",
        build="release",
        payloads=[("rootfs", payload)],
    )
    payload.unlink()
    return bundle


def install_once(work: Path, bundle: Path, key_pem_dir: Path) -> float:
    """Install `bundle` into a fresh file slot; return seconds."""
    device = work / "device"
    shutil.rmtree(device, ignore_errors=True)
    (device / "slots").mkdir(parents=True)
    size = bundle.stat().st_size
    slots = []
    for b in "AB":
        path = device / "slots" / f"rootfs_{b}"
        with open(path, "wb") as f:
            f.truncate(size)
        slots.append(Slot(f"rootfs.{b}", path, size))
    (device / "cmdline").write_text("evsite.slot=A\n")
    clock = SystemClock()
    installer = Installer(
        slots=SlotTable(slots),
        writer=FileSlotWriter(),
        bootchooser=FileBootchooser(device / "bootenv"),
        keyring=Keyring.load(key_pem_dir),
        state=StateStore(device / "update"),
        audit=AuditLog(open_database(device / "db"), clock),
        clock=clock,
        booted_slot=lambda: "A",
        policy=InstallPolicy(board="bench", running_version="1.0"),
    )
    started = time.perf_counter()
    installer.install(bundle)
    elapsed = time.perf_counter() - started
    shutil.rmtree(device)
    return elapsed


def hash_once(bundle: Path) -> float:
    """Read the bundle and SHA-256 it in the installer's chunk size; return seconds."""
    started = time.perf_counter()
    digest = hashlib.sha256()
    with open(bundle, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
    return time.perf_counter() - started


def copy_once(bundle: Path, dest: Path) -> float:
    """Read the bundle and write it to a new file, fsynced; return seconds."""
    started = time.perf_counter()
    with open(bundle, "rb") as src, open(dest, "wb") as out:
        while chunk := src.read(CHUNK_BYTES):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    elapsed = time.perf_counter() - started
    dest.unlink()
    return elapsed


def peak_rss_kib(work: Path, bundle: Path | None, keyring: Path) -> int:
    """VmHWM of a child that installs `bundle` (or only imports, when None)."""
    args = [
        sys.executable,
        "-m",
        "tests.bench.bench_update",
        "--child",
        str(work),
        str(keyring),
    ] + ([str(bundle)] if bundle else [])
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return int(out.strip().splitlines()[-1])


def _vm_hwm_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def child(argv: list[str]) -> None:
    """In the child: install once (if a bundle is given), print peak RSS in KiB."""
    work, keyring = Path(argv[0]), Path(argv[1])
    if len(argv) > 2:
        install_once(work / "child", Path(argv[2]), keyring)
    print(_vm_hwm_kib())


def main() -> None:
    """Run the throughput comparison on 500 MB and the memory check on 100 and 500 MB."""
    work = Path(tempfile.mkdtemp(prefix="evsite-bench-update-"))
    try:
        key = Ed25519PrivateKey.generate()
        keyring = work / "keyring"
        keyring.mkdir()
        (keyring / "bench.pub").write_bytes(
            key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        )
        big = make_bundle(work, 500 * MB, key)
        small = make_bundle(work, 100 * MB, key)
        hashes, copies, installs = [], [], []
        for _ in range(ROUNDS):  # interleaved, best of each: the machine is shared
            hashes.append(hash_once(big))
            copies.append(copy_once(big, work / "copy.img"))
            installs.append(install_once(work, big, keyring))
        size_mb = big.stat().st_size / MB
        t_hash, t_copy, t_install = min(hashes), min(copies), min(installs)
        slower = max(t_hash, t_copy)
        print(f"bundle {size_mb:.0f} MB, chunk {CHUNK_BYTES // 1024} KiB, best of {ROUNDS}")
        print(f"  sha256 only     {t_hash:6.2f} s  {size_mb / t_hash:7.0f} MB/s")
        print(f"  copy + fsync    {t_copy:6.2f} s  {size_mb / t_copy:7.0f} MB/s")
        print(f"  install         {t_install:6.2f} s  {size_mb / t_install:7.0f} MB/s")
        print(
            f"  install / sha256 = {t_install / t_hash:.2f}, install / copy = "
            f"{t_install / t_copy:.2f}"
        )
        print(
            f"  hash + copy done one after the other would take {t_hash + t_copy:.2f} s; "
            f"install overlaps {100 * (t_hash + t_copy - t_install) / min(t_hash, t_copy):.0f}% "
            "of the shorter one (bounded by the free cores)"
        )
        print(
            f"  verification overhead over the slower baseline: "
            f"{100 * (t_install / slower - 1):+.1f}% (target <= +10%)"
        )
        base = peak_rss_kib(work, None, keyring)
        rss = {
            name: peak_rss_kib(work, b, keyring) for name, b in (("100 MB", small), ("500 MB", big))
        }
        print(
            f"peak RSS: imports only {base / 1024:.1f} MiB; "
            + "; ".join(
                f"install {k} {v / 1024:.1f} MiB (+{(v - base) / 1024:.1f})" for k, v in rss.items()
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2:])
    else:
        main()
