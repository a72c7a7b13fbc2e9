"""TLS towards the CSMS: TLS 1.2+, the server validated against a CA bank, client certificates.

There is no way to switch validation off: a CSMS whose certificate does not
chain to the bank, names another host, or has expired is refused, and the
failure is classified for the audit log.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from websockets.exceptions import InvalidStatus

from evsite.tls import TLS12_CIPHERS

CA_SUFFIXES = (".pem", ".crt", ".cer")


def read_ca_bank(path: Path) -> str:
    """The PEM text of a CA bank: one file, or every .pem/.crt/.cer file in a directory."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in CA_SUFFIXES)
        return "\n".join(p.read_text() for p in files)
    return path.read_text()


def client_context(
    ca_bank: Path | None,
    system_cas: bool,
    cert_pem: str | None = None,
    key_pem: str | None = None,
) -> ssl.SSLContext:
    """A client context that validates the CSMS (chain, host name, dates) at TLS 1.2 or newer."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and host name check
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    if system_cas:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if ca_bank is not None:
        bank = read_ca_bank(ca_bank)
        if "BEGIN CERTIFICATE" in bank:
            context.load_verify_locations(cadata=bank)
    if cert_pem is not None and key_pem is not None:
        _load_client_certificate(context, cert_pem, key_pem)
    return context


def _load_client_certificate(context: ssl.SSLContext, cert_pem: str, key_pem: str) -> None:
    # ssl loads chains only from files: a private directory that lives for the call.
    with tempfile.TemporaryDirectory(prefix="evsite-uplink-") as tmp:
        cert_path = os.path.join(tmp, "client.crt")
        key_path = os.path.join(tmp, "client.key")
        for path, text in ((cert_path, cert_pem), (key_path, key_pem)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text)
        context.load_cert_chain(cert_path, key_path)


@dataclass(frozen=True)
class SecurityFailure:
    """A refused connection that is a security event, not just an unreachable CSMS."""

    event: str  # audit event name
    ocpp_type: str  # SecurityEventNotification type
    reason: str


def classify_failure(exc: BaseException) -> SecurityFailure | None:
    """What a connection error says about security; None for plain unreachability."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return SecurityFailure(
            "uplink.certificate_rejected",
            "InvalidCentralSystemCertificate",
            str(exc.verify_message or exc.reason or exc)[:200],
        )
    if isinstance(exc, ConnectionResetError | ssl.SSLEOFError):
        # TCP was accepted (else: refused), so this is the TLS handshake: many servers
        # just drop a client whose protocol versions or suites they do not accept.
        return SecurityFailure(
            "uplink.tls_rejected",
            "InvalidTLSVersion",
            "the CSMS closed the connection during the TLS handshake",
        )
    if isinstance(exc, ssl.SSLError):
        reason = str(exc.reason or exc)
        if "VERSION" in reason.upper() or "PROTOCOL" in reason.upper():
            return SecurityFailure("uplink.tls_rejected", "InvalidTLSVersion", reason[:200])
        if "CIPHER" in reason.upper() or "HANDSHAKE" in reason.upper():
            return SecurityFailure("uplink.tls_rejected", "InvalidTLSCipherSuite", reason[:200])
        return SecurityFailure("uplink.tls_rejected", "InvalidCentralSystemCertificate", reason)
    if isinstance(exc, InvalidStatus) and exc.response.status_code in (401, 403):
        return SecurityFailure(
            "uplink.auth_failed",
            "FailedToAuthenticateAtCentralSystem",
            f"HTTP {exc.response.status_code}",
        )
    return None
