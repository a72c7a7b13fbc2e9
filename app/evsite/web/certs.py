"""The UI's TLS certificate: self-signed ECDSA P-256 made on first start, or an uploaded one."""

from __future__ import annotations

import ipaddress
import itertools
import os
import socket
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"
UPLOADED_MARK = "uploaded"
_STRONG_CURVES = {"secp256r1", "secp384r1", "secp521r1"}


class CertificateError(ValueError):
    """An uploaded certificate or key is refused; the message says why."""


@dataclass(frozen=True)
class CertificateInfo:
    """What the maintenance page shows about the certificate in use."""

    subject: str
    issuer: str
    names: tuple[str, ...]
    not_after: datetime
    sha256: str
    uploaded: bool


def default_names(extra: Sequence[str]) -> list[str]:
    """The names a device certificate covers: evsite.local, the host name, extra, loopback."""
    names = ["evsite.local", socket.gethostname(), *extra, "127.0.0.1"]
    return list(dict.fromkeys(n for n in names if n))


def _san(names: Sequence[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def make_self_signed(names: Sequence[str], now: datetime) -> tuple[bytes, bytes]:
    """Return (cert PEM, key PEM) of a new self-signed ECDSA P-256 server certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, names[0]),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "evsite device"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        # The device may run for years without anyone renewing it; browsers ask
        # the user to trust a self-signed certificate once either way.
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(_san(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def validate_upload(cert_pem: bytes, key_pem: bytes, now: datetime) -> list[x509.Certificate]:
    """Check an uploaded chain and key; return the parsed chain or raise CertificateError."""
    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError:
        raise CertificateError("the certificate file is not a PEM certificate chain") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        raise CertificateError("the key file is not an unencrypted PEM private key") from None
    leaf = chain[0]
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise CertificateError(f"RSA key of {key.key_size} bits; at least 2048 needed")
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name not in _STRONG_CURVES:
            raise CertificateError(f"EC curve {key.curve.name}; P-256, P-384 or P-521 needed")
    else:
        raise CertificateError("the key must be RSA (2048 bits or more) or EC (P-256 or more)")
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(
        serialization.Encoding.DER, pub
    ) != leaf.public_key().public_bytes(serialization.Encoding.DER, pub):
        raise CertificateError("the key does not belong to the (first) certificate")
    if leaf.not_valid_after_utc <= now:
        raise CertificateError(f"the certificate expired on {leaf.not_valid_after_utc:%Y-%m-%d}")
    if leaf.not_valid_before_utc > now:
        raise CertificateError(
            f"the certificate is not valid before {leaf.not_valid_before_utc:%Y-%m-%d}"
        )
    for child, parent in itertools.pairwise(chain):
        if child.issuer != parent.subject:
            raise CertificateError(
                "the chain is out of order: each certificate must be followed by its issuer"
            )
    return chain


class UiCertificate:
    """The certificate files in `<data dir>/web-tls/`, separate from the OCPP ones."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.cert_path = directory / CERT_FILE
        self.key_path = directory / KEY_FILE

    def ensure(self, names: Sequence[str], now: datetime) -> bool:
        """Make a self-signed certificate when none exists; return True if one was made."""
        if self.cert_path.exists() and self.key_path.exists():
            return False
        cert_pem, key_pem = make_self_signed(names, now)
        self._write(cert_pem, key_pem)
        (self.directory / UPLOADED_MARK).unlink(missing_ok=True)
        return True

    def replace(self, cert_pem: bytes, key_pem: bytes, now: datetime) -> CertificateInfo:
        """Validate and install an uploaded certificate and key; nothing changes on error."""
        validate_upload(cert_pem, key_pem, now)
        self._write(cert_pem, key_pem)
        (self.directory / UPLOADED_MARK).write_text("1\n")
        return self.info()

    def info(self) -> CertificateInfo:
        """Describe the certificate in use."""
        cert = x509.load_pem_x509_certificates(self.cert_path.read_bytes())[0]
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            names = tuple(str(v) for v in san.get_values_for_type(x509.DNSName)) + tuple(
                str(v) for v in san.get_values_for_type(x509.IPAddress)
            )
        except x509.ExtensionNotFound:
            names = ()
        return CertificateInfo(
            cert.subject.rfc4514_string(),
            cert.issuer.rfc4514_string(),
            names,
            cert.not_valid_after_utc,
            cert.fingerprint(hashes.SHA256()).hex(":"),
            (self.directory / UPLOADED_MARK).exists(),
        )

    def _write(self, cert_pem: bytes, key_pem: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Write both to temporary files first so a crash leaves the old pair intact.
        for path, data, mode in (
            (self.key_path, key_pem, 0o600),
            (self.cert_path, cert_pem, 0o644),
        ):
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, path)
