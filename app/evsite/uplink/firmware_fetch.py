"""Fetching a firmware bundle for the CSMS: HTTPS only, validated, bounded, streamed to a file.

The location comes from the CSMS (UpdateFirmware `location`,
SignedUpdateFirmware `firmware.location`). Only `https://` is fetched, with
the uplink's TLS client context (the CA bank, host name and dates checked;
there is no switch to turn that off); a redirect must stay on https. The body
goes to the file in 1 MiB chunks, counted against the bundle limit, and
hashed on the way for the OCPP signature check. Blocking: run it in a thread.

The OCPP signature (security whitepaper: `signingCertificate`, `signature`
= the firmware file signed with SHA-256 by the certificate's key) is checked
as far as the device can: the certificate must parse, be in date and, when
`[firmware] signing_ca` is set, be issued by it; the signature must verify over
the downloaded file. Our own bundle signature (Ed25519, checked by the
installer against the device keyring) stays the authority either way.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

CHUNK_BYTES = 1024 * 1024
MAX_REDIRECTS = 3


class FetchError(Exception):
    """The bundle could not be fetched; the message says why (never the full URL)."""


class FetchCancelled(Exception):
    """A newer request replaced this download."""


@dataclass(frozen=True)
class Fetched:
    """A downloaded file: its size and SHA-256."""

    size: int
    sha256: bytes


def redact(url: str) -> str:
    """A location fit for logs and the audit log: no credentials, no query (tokens live there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"[:200]


def fetch(
    url: str,
    dest: Path,
    *,
    context: ssl.SSLContext,
    limit: int,
    timeout_s: float,
    cancelled: threading.Event,
    progress: Callable[[int, int], None] | None = None,
) -> Fetched:
    """GET an https:// location into dest; raise FetchError (or FetchCancelled)."""
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme.lower() != "https" or not parts.hostname:
            raise FetchError(
                f"only https:// locations are fetched, not {parts.scheme or 'none'}://"
            )
        connection = http.client.HTTPSConnection(
            parts.hostname, parts.port or 443, context=context, timeout=timeout_s
        )
        try:
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            headers = {"User-Agent": "evsite", "Accept": "application/octet-stream"}
            if parts.username is not None:
                creds = f"{parts.username}:{parts.password or ''}".encode()
                headers["Authorization"] = "Basic " + base64.b64encode(creds).decode()
            try:
                connection.request("GET", target, headers=headers)
                response = connection.getresponse()
            except ssl.SSLCertVerificationError as exc:
                raise FetchError(
                    f"certificate of {parts.hostname} refused: {exc.verify_message or exc}"
                ) from None
            except (OSError, http.client.HTTPException) as exc:
                raise FetchError(f"cannot reach {parts.hostname}: {exc}") from None
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location") or ""
                url = urljoin(url, location)
                continue
            if response.status != 200:
                raise FetchError(f"{parts.hostname} answered HTTP {response.status}")
            return _save(response, dest, limit, cancelled, progress)
        finally:
            connection.close()
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


def _save(
    response: http.client.HTTPResponse,
    dest: Path,
    limit: int,
    cancelled: threading.Event,
    progress: Callable[[int, int], None] | None,
) -> Fetched:
    announced = response.getheader("Content-Length")
    length = int(announced) if announced and announced.strip().isdigit() else None
    if length is not None and length > limit:
        raise FetchError(f"the file is {length} bytes; this device takes at most {limit}")
    digest = hashlib.sha256()
    written = 0
    with open(dest, "wb") as out:
        while True:
            if cancelled.is_set():
                raise FetchCancelled("replaced by a newer request")
            try:
                chunk = response.read(CHUNK_BYTES)
            except (OSError, http.client.HTTPException) as exc:
                raise FetchError(f"the download broke off after {written} bytes: {exc}") from None
            if not chunk:
                break
            written += len(chunk)
            if written > limit:
                raise FetchError(f"the file went over {limit} bytes")
            out.write(chunk)
            digest.update(chunk)
            if progress is not None:
                progress(written, length or 0)
    if length is not None and written != length:
        raise FetchError(f"the download stopped after {written} of {length} bytes")
    if written == 0:
        raise FetchError("the file is empty")
    return Fetched(written, digest.digest())


class SigningCertificateError(ValueError):
    """The SignedUpdateFirmware signingCertificate is not acceptable."""


def load_signing_roots(path: Path | None) -> list[x509.Certificate]:
    """The certificates a firmware signing certificate must be issued by (none: not checked)."""
    if path is None:
        return []
    return x509.load_pem_x509_certificates(path.read_bytes())


def check_signing_certificate(
    pem: str, now: datetime, roots: Sequence[x509.Certificate]
) -> x509.Certificate:
    """Parse the signing certificate and check its dates, key type and (if roots) its issuer."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError as exc:
        raise SigningCertificateError(f"not a PEM certificate: {exc}") from None
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise SigningCertificateError("the signing certificate is not valid at this time")
    if not isinstance(cert.public_key(), rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise SigningCertificateError("the signing key must be RSA or ECDSA")
    if roots:
        for root in roots:
            try:
                cert.verify_directly_issued_by(root)
                break
            except (ValueError, TypeError, InvalidSignature):
                continue
        else:
            raise SigningCertificateError("the signing certificate is not issued by signing_ca")
    return cert


def signature_matches(cert: x509.Certificate, signature_b64: str, sha256: bytes) -> bool:
    """True when `signature` (Base64) signs a file with this SHA-256 under the certificate's key."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except ValueError:
        return False
    key = cert.public_key()
    prehashed = Prehashed(hashes.SHA256())
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, sha256, padding.PKCS1v15(), prehashed)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, sha256, ec.ECDSA(prehashed))
        else:
            return False
    except InvalidSignature:
        return False
    return True
