"""A TLS scan of the UI port with sslyze: TLS 1.2+ only, ECDHE+AEAD suites, a strong key.

sslyze pins an older `cryptography` than the app does, so it lives in its own
virtualenv: $EVSITE_SSLYZE, else <repo>/.venv-sslyze/bin/sslyze, else sslyze on PATH.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.unit.web.support import Site

REPO = Path(__file__).resolve().parents[3]
ALLOWED_TLS12 = re.compile(
    r"^TLS_ECDHE_(ECDSA|RSA)_WITH_(AES_(128|256)_GCM_SHA(256|384)|"
    r"CHACHA20_POLY1305_SHA256)$"
)


def _sslyze() -> str | None:
    for candidate in (
        os.environ.get("EVSITE_SSLYZE"),
        str(REPO / ".venv-sslyze/bin/sslyze"),
        shutil.which("sslyze"),
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@pytest.mark.skipif(_sslyze() is None, reason="sslyze not installed (make creates .venv-sslyze)")
def test_sslyze_finds_only_modern_tls(served: Site, tmp_path: Path) -> None:
    out = tmp_path / "scan.json"
    subprocess.run(
        [
            str(_sslyze()),
            f"--json_out={out}",
            "--quiet",
            "--tlsv1_2",
            "--tlsv1_3",
            "--sslv2",
            "--sslv3",
            "--tlsv1",
            "--tlsv1_1",
            "--certinfo",
            f"127.0.0.1:{served.web.https.port}",
        ],
        check=True,
        timeout=120,
        capture_output=True,
    )
    result = json.loads(out.read_text())["server_scan_results"][0]["scan_result"]

    def accepted(name: str) -> list[str]:
        suites = result[name]["result"]["accepted_cipher_suites"]
        return [s["cipher_suite"]["name"] for s in suites]

    for old in ("ssl_2_0", "ssl_3_0", "tls_1_0", "tls_1_1"):
        assert accepted(f"{old}_cipher_suites") == [], old
    tls12 = accepted("tls_1_2_cipher_suites")
    assert tls12 and all(ALLOWED_TLS12.match(name) for name in tls12), tls12
    assert accepted("tls_1_3_cipher_suites")
    leaf = result["certificate_info"]["result"]["certificate_deployments"][0][
        "received_certificate_chain"
    ][0]
    key = leaf["public_key"]
    assert (key["algorithm"], key["ec_curve_name"], key["key_size"]) == (
        "ECPublicKey",
        "secp256r1",
        256,
    )
    assert leaf["signature_hash_algorithm"]["name"] == "sha256"
