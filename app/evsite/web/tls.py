"""The UI's TLS settings: TLS 1.2 with ECDHE and AEAD suites only, or TLS 1.3."""

from __future__ import annotations

import ssl
from pathlib import Path

# TLS 1.2 suites: forward secret key exchange and authenticated encryption only.
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


def server_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    """Build the server context; `load_cert_chain` on it again swaps the certificate live."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(TLS12_CIPHERS)
    ctx.options |= (
        ssl.OP_NO_COMPRESSION
        | ssl.OP_CIPHER_SERVER_PREFERENCE
        | ssl.OP_NO_RENEGOTIATION
        | ssl.OP_SINGLE_ECDH_USE
    )
    ctx.load_cert_chain(cert_path, key_path)
    return ctx
