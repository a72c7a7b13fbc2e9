"""Manifest parsing: strict types, unknown fields, bounds; fuzzed bytes and fields."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evsite.update.errors import BundleRejected, Reason
from evsite.update.manifest import MAX_MANIFEST_BYTES, MAX_PAYLOAD_BYTES, Manifest, parse_manifest
from evsite.update.version import parse_version
from tests.unit.update.support import manifest_dict, payloads


def encode(data: Any) -> bytes:
    return json.dumps(data).encode()


def test_valid_manifest_round_trips() -> None:
    data = manifest_dict(payloads(), revoked_keys=["0123456789abcdef"])
    manifest = parse_manifest(encode(data))
    assert manifest.compatible == "qemu-arm64"
    assert [p.name for p in manifest.payloads] == ["boot", "rootfs"]
    assert manifest.revoked_keys == ("0123456789abcdef",)
    assert parse_manifest(manifest.to_bytes()) == manifest
    assert isinstance(manifest, Manifest)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"format": 2}, Reason.UNSUPPORTED_FORMAT),
        ({"format": True}, Reason.MALFORMED_MANIFEST),
        ({"format": "1"}, Reason.MALFORMED_MANIFEST),
        ({"product": 7}, Reason.MALFORMED_MANIFEST),
        ({"compatible": "CM4"}, Reason.MALFORMED_MANIFEST),
        ({"compatible": "../x"}, Reason.MALFORMED_MANIFEST),
        ({"version": "1.0.0-rc1"}, Reason.MALFORMED_MANIFEST),
        ({"version": "01.0"}, Reason.MALFORMED_MANIFEST),
        ({"version": 1}, Reason.MALFORMED_MANIFEST),
        ({"min_version": "2.0"}, Reason.MALFORMED_MANIFEST),
        ({"build": "debug"}, Reason.MALFORMED_MANIFEST),
        ({"payloads": []}, Reason.MALFORMED_MANIFEST),
        ({"payloads": {}}, Reason.MALFORMED_MANIFEST),
        ({"revoked_keys": ["XYZ"]}, Reason.MALFORMED_MANIFEST),
        ({"revoked_keys": "0123456789abcdef"}, Reason.MALFORMED_MANIFEST),
        ({"revoked_keys": ["0123456789abcdef"] * 65}, Reason.MALFORMED_MANIFEST),
        ({"extra": 1}, Reason.MALFORMED_MANIFEST),
    ],
)
def test_bad_field_is_refused_with_its_reason(change: dict[str, Any], reason: Reason) -> None:
    with pytest.raises(BundleRejected) as err:
        parse_manifest(encode(manifest_dict(payloads(), **change)))
    assert err.value.reason is reason


@pytest.mark.parametrize(
    ("payload_change", "reason"),
    [
        ({"name": "kernel"}, Reason.MALFORMED_MANIFEST),
        ({"name": "../../etc/passwd"}, Reason.MALFORMED_MANIFEST),
        ({"size": 0}, Reason.MALFORMED_MANIFEST),
        ({"size": -5}, Reason.MALFORMED_MANIFEST),
        ({"size": 1.5}, Reason.MALFORMED_MANIFEST),
        ({"size": False}, Reason.MALFORMED_MANIFEST),
        ({"size": MAX_PAYLOAD_BYTES + 1}, Reason.OVERSIZED_PAYLOAD),
        ({"sha256": "AB" * 32}, Reason.MALFORMED_MANIFEST),
        ({"sha256": "ab" * 31}, Reason.MALFORMED_MANIFEST),
        ({"path": "/dev/mmcblk0"}, Reason.MALFORMED_MANIFEST),
    ],
)
def test_bad_payload_entry_is_refused(payload_change: dict[str, Any], reason: Reason) -> None:
    data = manifest_dict(payloads())
    data["payloads"][1].update(payload_change)
    with pytest.raises(BundleRejected) as err:
        parse_manifest(encode(data))
    assert err.value.reason is reason


def test_missing_field_duplicate_key_and_constants_are_refused() -> None:
    data = manifest_dict(payloads())
    del data["min_version"]
    for raw in (
        encode(data),
        b'{"format": 1, "format": 1}',
        encode(manifest_dict(payloads())).replace(b'"format": 1', b'"format": NaN'),
        b"\xff\xfe{}",
        b"[" * 5000 + b"]" * 5000,
        b"{}",
        b"null",
    ):
        with pytest.raises(BundleRejected) as err:
            parse_manifest(raw)
        assert err.value.reason is Reason.MALFORMED_MANIFEST, raw[:40]


def test_payload_named_twice_is_refused() -> None:
    data = manifest_dict(payloads())
    data["payloads"][0]["name"] = "rootfs"
    with pytest.raises(BundleRejected, match="twice"):
        parse_manifest(encode(data))


def test_oversized_manifest_is_refused_before_parsing() -> None:
    with pytest.raises(BundleRejected) as err:
        parse_manifest(b" " * (MAX_MANIFEST_BYTES + 1))
    assert err.value.reason is Reason.MANIFEST_TOO_LARGE


def test_versions_compare_numerically() -> None:
    assert parse_version("1.10") > parse_version("1.9.9")
    assert parse_version("2") == parse_version("2.0.0")
    with pytest.raises(ValueError, match="not a version"):
        parse_version("1.2.3.4.5")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_fuzzed_manifest_bytes_only_ever_raise_bundle_rejected(raw: bytes) -> None:
    try:
        parse_manifest(raw)
    except BundleRejected:
        pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(manifest_dict(payloads()))), json_values)
def test_fuzzed_manifest_field_is_refused_or_well_typed(field: str, value: Any) -> None:
    data = manifest_dict(payloads())
    data[field] = value
    try:
        manifest = parse_manifest(encode(data))
    except BundleRejected:
        return
    # Accepted only when the value is of the right shape: re-serialising gives the same data.
    assert manifest.to_dict()[field] == value


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["name", "size", "sha256"]), json_values)
def test_fuzzed_payload_field_is_refused_or_well_typed(field: str, value: Any) -> None:
    data = manifest_dict(payloads())
    data["payloads"][0][field] = value
    try:
        manifest = parse_manifest(encode(data))
    except BundleRejected:
        return
    assert manifest.to_dict()["payloads"][0][field] == value
