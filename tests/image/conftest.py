"""Fixtures for the image tests: find the built image and read its partitions without booting."""

from __future__ import annotations

import json
import lzma
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BOARD = os.environ.get("EVSITE_IMAGE_BOARD", "qemu-arm64")
OUT = REPO / os.environ.get("EVSITE_IMAGE_OUT", "out")
BUILD = REPO / "build" / BOARD
SECTOR = 512
TOOLS = ("sfdisk", "mcopy", "unsquashfs", "fw_printenv", "nft")


@dataclass(frozen=True)
class Partition:
    """One GPT entry of the image."""

    name: str
    number: int
    start: int  # bytes
    size: int  # bytes
    type: str
    uuid: str
    attrs: str


@dataclass(frozen=True)
class Image:
    """A built disk image and its partition table."""

    path: Path
    board: str
    partitions: dict[str, Partition]
    table: dict[str, object]

    def read(self, name: str, length: int | None = None) -> bytes:
        """Bytes of one partition (the first `length` only, if given)."""
        part = self.partitions[name]
        with open(self.path, "rb") as f:
            f.seek(part.start)
            return f.read(part.size if length is None else length)

    def extract(self, name: str, dest: Path) -> Path:
        """Copy one partition to a file of its own."""
        part = self.partitions[name]
        subprocess.run(
            [
                "dd",
                f"if={self.path}",
                f"of={dest}",
                "bs=1M",
                "iflag=skip_bytes,count_bytes",
                f"skip={part.start}",
                f"count={part.size}",
                "conv=sparse",
                "status=none",
            ],
            check=True,
        )
        return dest

    def fat_spec(self, name: str) -> str:
        """An mtools image spec (file@@offset) for a FAT partition."""
        return f"{self.path}@@{self.partitions[name].start}"


def _find_image(tmp_factory: pytest.TempPathFactory) -> Path | None:
    raw = sorted(BUILD.glob(f"evsite-*-{BOARD}.img"))
    if raw:
        return raw[-1]
    packed = sorted(OUT.glob(f"evsite-*-{BOARD}.img.xz"))
    if not packed:
        return None
    dest = tmp_factory.mktemp("image") / packed[-1].name.removesuffix(".xz")
    with lzma.open(packed[-1]) as src, open(dest, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return dest


def read_table(path: Path) -> tuple[dict[str, Partition], dict[str, object]]:
    """The GPT of a disk image, by partition name (sfdisk --json)."""
    table = json.loads(
        subprocess.run(
            ["sfdisk", "--json", str(path)], capture_output=True, text=True, check=True
        ).stdout
    )["partitiontable"]
    parts = {}
    for i, p in enumerate(table["partitions"], start=1):
        parts[p["name"]] = Partition(
            p["name"],
            i,
            p["start"] * SECTOR,
            p["size"] * SECTOR,
            p["type"],
            p["uuid"],
            p.get("attrs", ""),
        )
    return parts, table


@pytest.fixture(scope="session")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    """The built image for EVSITE_IMAGE_BOARD; skips when there is none or tools lack."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(
            f"image tests need {', '.join(missing)} (apt-get install fdisk mtools "
            "squashfs-tools libubootenv-tool nftables)"
        )
    path = _find_image(tmp_path_factory)
    if path is None:
        pytest.skip(f"no {BOARD} image built: run `make image BOARD={BOARD}` first")
    parts, table = read_table(path)
    return Image(path, BOARD, parts, table)


@pytest.fixture(scope="session")
def rootfs(image: Image, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The root filesystem of slot A, unpacked."""
    tmp = tmp_path_factory.mktemp("rootfs")
    sqfs = image.extract("rootfs_a", tmp / "rootfs.squashfs")
    root = tmp / "root"
    subprocess.run(
        ["unsquashfs", "-q", "-n", "-d", str(root), str(sqfs)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    yield root
    shutil.rmtree(tmp, ignore_errors=True)


def read_env(spec: str, tmp: Path) -> dict[str, str]:
    """Both copies of the boot environment from a firmware partition, through libubootenv."""
    env = os.environ | {"MTOOLS_SKIP_CHECK": "1"}
    for copy in (1, 2):
        subprocess.run(
            ["mcopy", "-o", "-n", "-i", spec, f"::bootchooser{copy}.env", str(tmp / f"env{copy}")],
            check=True,
            env=env,
        )
    config = tmp / "fw_env.config"
    config.write_text(f"{tmp / 'env1'} 0x0 0x4000\n{tmp / 'env2'} 0x0 0x4000\n")
    out = subprocess.run(
        ["fw_printenv", "-c", str(config)], capture_output=True, text=True, check=True
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
