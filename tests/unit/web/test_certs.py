"""The UI certificate: self-signed P-256 on first start; uploads validated before use."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from evsite.web.certs import CertificateError, UiCertificate, make_self_signed, validate_upload

NOW = datetime(2026, 1, 1, tzinfo=UTC)


PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


def _pem_key(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert(
    key: PrivateKey,
    *,
    days: int = 90,
    start: datetime = NOW - timedelta(days=1),
    issuer_key: PrivateKey | None = None,
    issuer: str = "test",
    subject: str = "evsite.example",
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    signer = issuer_key or key
    digest = None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .sign(signer, digest)
    )


def _pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def test_first_start_makes_a_p256_certificate_with_the_device_names(tmp_path: Path) -> None:
    ui = UiCertificate(tmp_path / "web-tls")
    assert ui.ensure(["evsite.local", "evsite-7", "192.168.1.5", "127.0.0.1"], NOW)
    assert not ui.ensure(["evsite.local"], NOW)  # kept on the next start
    cert = x509.load_pem_x509_certificate(ui.cert_path.read_bytes())
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    assert set(ui.info().names) == {"evsite.local", "evsite-7", "192.168.1.5", "127.0.0.1"}
    assert oct(ui.key_path.stat().st_mode & 0o777) == "0o600"
    assert not ui.info().uploaded


def test_a_good_upload_replaces_the_certificate(tmp_path: Path) -> None:
    ui = UiCertificate(tmp_path)
    ui.ensure(["evsite.local"], NOW)
    key = ec.generate_private_key(ec.SECP384R1())
    info = ui.replace(_pem(_cert(key)), _pem_key(key), NOW)
    assert info.uploaded and "evsite.example" in info.subject


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (
            lambda: (rsa.generate_private_key(65537, 1024), {}),  # noqa: S505 - weak on purpose
            "at least 2048",
        ),
        (lambda: (ec.generate_private_key(ec.SECP224R1()), {}), "P-256"),
        (lambda: (ed25519.Ed25519PrivateKey.generate(), {}), "must be RSA"),
        (
            lambda: (
                ec.generate_private_key(ec.SECP256R1()),
                {"days": 1, "start": NOW - timedelta(days=5)},
            ),
            "expired",
        ),
        (
            lambda: (ec.generate_private_key(ec.SECP256R1()), {"start": NOW + timedelta(days=5)}),
            "not valid before",
        ),
    ],
)
def test_weak_or_out_of_date_uploads_are_refused(
    make: Callable[[], tuple[PrivateKey, dict[str, Any]]], why: str
) -> None:
    key, opts = make()
    with pytest.raises(CertificateError, match=why):
        validate_upload(_pem(_cert(key, **opts)), _pem_key(key), NOW)


def test_key_must_match_and_chain_must_be_ordered(tmp_path: Path) -> None:
    ui = UiCertificate(tmp_path)
    ui.ensure(["evsite.local"], NOW)
    before = ui.cert_path.read_bytes()
    key, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(CertificateError, match="does not belong"):
        ui.replace(_pem(_cert(key)), _pem_key(other), NOW)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert(ca_key, subject="Test CA", issuer="Test CA")
    leaf = _cert(key, issuer_key=ca_key, issuer="Test CA")
    stranger = _cert(other, subject="Someone", issuer="Someone")
    with pytest.raises(CertificateError, match="out of order"):
        ui.replace(_pem(leaf, stranger), _pem_key(key), NOW)
    assert ui.cert_path.read_bytes() == before  # nothing changed
    assert ui.replace(_pem(leaf, ca), _pem_key(key), NOW).uploaded


def test_garbage_is_refused_with_a_clear_reason() -> None:
    cert, key = make_self_signed(["evsite.local"], NOW)
    with pytest.raises(CertificateError, match="not a PEM certificate"):
        validate_upload(b"hello", key, NOW)
    with pytest.raises(CertificateError, match="unencrypted PEM private key"):
        validate_upload(cert, b"hello", NOW)
