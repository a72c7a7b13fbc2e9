"""The signed bundle `make image` leaves beside the image: the image itself trusts it, and
it carries exactly the payloads of the image's slot A (the same build)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from evsite.update.bundle import hash_file, verify_bundle_file
from evsite.update.keyring import Keyring
from tests.image.conftest import OUT, Image

pytestmark = pytest.mark.image


def _bundle(image: Image) -> Path:
    found = sorted(OUT.glob(f"evsite-*-{image.board}.bundle"))
    if not found:
        pytest.skip(f"no bundle in {OUT}: a release image's bundle is signed offline")
    return found[-1]


def test_the_image_trusts_its_bundle_and_the_bundle_holds_its_payloads(
    image: Image, rootfs: Path
) -> None:
    bundle = _bundle(image)
    header = verify_bundle_file(bundle, Keyring.load(rootfs / "etc/evsite/keyring"))
    manifest = header.manifest
    release = dict(
        line.split("=", 1) for line in (rootfs / "etc/evsite-release").read_text().splitlines()
    )
    assert manifest.version == release["EVSITE_VERSION"]
    assert manifest.compatible == image.board
    payloads = {p.name: (p.size, p.sha256) for p in manifest.payloads}
    assert payloads["rootfs"] == hash_file(OUT / image.board / "rootfs.squashfs")
    assert payloads["boot"] == hash_file(OUT / image.board / "boot.img")
    # ...which are what slot A of the image holds.
    size, digest = payloads["rootfs"]
    assert hashlib.sha256(image.read("rootfs_a", size)).hexdigest() == digest


def test_the_bundle_is_in_the_checksum_list(image: Image) -> None:
    bundle = _bundle(image)
    sums = (OUT / "SHA256SUMS").read_text().splitlines()
    digest = hash_file(bundle)[1]
    assert f"{digest}  {bundle.name}" in sums
