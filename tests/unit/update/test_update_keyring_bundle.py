"""Keyring loading and rotation; bundle header verification under fuzzed bytes."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from evsite.update.bundle import build_bundle, verify_bundle_file
from evsite.update.errors import BundleRejected, Reason
from evsite.update.keyring import Keyring, KeyringError
from evsite.update.signature import key_id, sign_manifest
from tests.unit.update.support import bundle_bytes, new_key, payloads, write_public

KEY = new_key()
KEYRING = Keyring([KEY.public_key()])
GOOD = bundle_bytes(KEY, payloads(rootfs=4000, boot=1000))


def test_key_id_is_sha256_prefix_of_raw_public_key() -> None:
    import hashlib

    raw = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert key_id(KEY.public_key()) == hashlib.sha256(raw).hexdigest()[:16]


def test_keyring_loads_a_directory_or_one_file_with_several_keys(tmp_path: Path) -> None:
    a, b = new_key(), new_key()
    write_public(a, tmp_path / "a.pub")
    write_public(b, tmp_path / "b.pub")
    (tmp_path / "notes.txt").write_text("ignored")
    assert set(Keyring.load(tmp_path).key_ids()) == {key_id(a.public_key()), key_id(b.public_key())}
    both = tmp_path / "all.pem"
    both.write_bytes((tmp_path / "a.pub").read_bytes() + (tmp_path / "b.pub").read_bytes())
    assert len(Keyring.load(both).key_ids()) == 2
    ring = Keyring.load(tmp_path)
    block = sign_manifest(b, b"m")
    assert ring.verify(b"m", block) == key_id(b.public_key())
    with pytest.raises(BundleRejected) as err:
        ring.verify(b"m", block, revoked={key_id(b.public_key())})
    assert err.value.reason is Reason.REVOKED_KEY


def test_keyring_refuses_empty_dirs_and_other_key_types(tmp_path: Path) -> None:
    with pytest.raises(KeyringError, match="no public keys"):
        Keyring.load(tmp_path)
    ec_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    (tmp_path / "ec.pub").write_bytes(
        ec_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(KeyringError, match="not Ed25519"):
        Keyring.load(tmp_path)


def test_build_and_verify_a_bundle_file(tmp_path: Path) -> None:
    (tmp_path / "rootfs.img").write_bytes(payloads()["rootfs"])
    out = tmp_path / "x.bundle"
    manifest = build_bundle(
        out,
        KEY,
        compatible="cm4",
        version="2.0",
        min_version="1.0",
        build="release",
        payloads=[("rootfs", tmp_path / "rootfs.img")],
    )
    assert verify_bundle_file(out, KEYRING).manifest == manifest
    assert not (tmp_path / "x.bundle.part").exists()


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=len(GOOD) - 1), st.integers(1, 255), st.integers(0, 200))
def test_any_flipped_byte_or_cut_is_refused_cleanly(
    tmp_path_factory: pytest.TempPathFactory, index: int, xor: int, cut: int
) -> None:
    data = bytearray(GOOD)
    data[index] ^= xor
    path = tmp_path_factory.mktemp("fuzz") / "b.bundle"
    path.write_bytes(bytes(data[: len(data) - cut]))
    with pytest.raises(BundleRejected):
        verify_bundle_file(path, KEYRING)
