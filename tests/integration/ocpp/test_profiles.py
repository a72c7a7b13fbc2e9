"""Security profiles 1 (Basic over ws, only when switched on) and 3 (client certificates)."""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, InvalidStatus

from evsite.clock import SystemClock
from evsite.config import parse_settings
from evsite.controller import Controller
from evsite.ocpp.keys import generate_key
from tests.integration.ocpp.conftest import basic, client_tls


def make_cert(
    subject: str,
    issuer_key: ec.EllipticCurvePrivateKey | None = None,
    issuer: str | None = None,
    ca: bool = False,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer or subject)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key or key, hashes.SHA256())
    )
    return key, cert


def write_pair(
    tmp: Path, name: str, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate
) -> tuple[Path, Path]:
    cert_path, key_path = tmp / f"{name}.crt", tmp / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
async def mtls(tmp_path: Path) -> AsyncIterator[tuple[Controller, int, Path]]:
    ca_key, ca_cert = make_cert("Test Station CA", ca=True)
    ca_path, _ = write_pair(tmp_path, "ca", ca_key, ca_cert)
    data = tmp_path / "data"
    settings = parse_settings(
        {
            "ocpp": {
                "bind": "127.0.0.1",
                "port": 0,
                "client_ca": str(ca_path),
                "plain_ws": True,
                "plain_port": 0,
            }
        }
    )
    controller = Controller(settings, data, SystemClock())
    ports = await controller.start()
    assert ports.ocpp_tls
    (tmp_path / "ca_key.pem").write_bytes(
        ca_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    yield controller, ports.ocpp_tls, tmp_path
    await controller.stop()
    controller.db.close()


def station_context(
    controller: Controller, tmp: Path, common_name: str | None, signer: str = "ca"
) -> ssl.SSLContext:
    context = client_tls(controller.data_dir)
    if common_name:
        ca_key = serialization.load_pem_private_key((tmp / "ca_key.pem").read_bytes(), None)
        if signer != "ca":
            ca_key = ec.generate_private_key(ec.SECP256R1())
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        key, cert = make_cert(common_name, ca_key, "Test Station CA")
        cert_path, key_path = write_pair(tmp, common_name + signer, key, cert)
        context.load_cert_chain(cert_path, key_path)
    return context


async def refusal(url: str, context: ssl.SSLContext | None, headers: dict[str, str]) -> int:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            url,
            ssl=context,
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            additional_headers=headers,
        ):
            pass
    return refused.value.response.status_code


async def test_profile_3_station_with_a_ca_signed_certificate_connects(
    mtls: tuple[Controller, int, Path],
) -> None:
    controller, port, tmp = mtls
    controller.stations.add("CP-3", None, 3)
    context = station_context(controller, tmp, "CP-3")
    async with connect(
        f"wss://localhost:{port}/ocpp/CP-3", ssl=context, subprotocols=["ocpp1.6"]
    ) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "ocpp1.6"


async def test_profile_3_refuses_missing_foreign_and_mismatched_certificates(
    mtls: tuple[Controller, int, Path],
) -> None:
    controller, port, tmp = mtls
    controller.stations.add("CP-3", None, 3)
    url = f"wss://localhost:{port}/ocpp/CP-3"
    assert await refusal(url, station_context(controller, tmp, None), {}) == 401
    assert await refusal(url, station_context(controller, tmp, "CP-OTHER"), {}) == 401
    with pytest.raises((ssl.SSLError, OSError, InvalidHandshake)):
        async with connect(
            url,
            ssl=station_context(controller, tmp, "CP-3", signer="rogue"),
            subprotocols=["ocpp1.6"],
        ):  # type: ignore[list-item]
            pass


async def test_profile_1_station_connects_over_plain_ws_when_switched_on(
    mtls: tuple[Controller, int, Path],
) -> None:
    controller, _, _ = mtls
    key = generate_key()
    controller.stations.add("CP-1", key, 1)
    plain = controller.ports.ocpp_plain
    async with connect(
        f"ws://127.0.0.1:{plain}/ocpp/CP-1",
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        additional_headers=basic("CP-1", key),
    ) as ws:
        assert ws.subprotocol == "ocpp1.6"


async def test_profile_2_station_is_refused_on_plain_ws(mtls: tuple[Controller, int, Path]) -> None:
    controller, _, _ = mtls
    key = generate_key()
    controller.stations.add("CP-2", key, 2)
    url = f"ws://127.0.0.1:{controller.ports.ocpp_plain}/ocpp/CP-2"
    assert await refusal(url, None, basic("CP-2", key)) == 401
    failures = [
        r.detail["reason"] for r in controller.audit.records() if r.event == "station.auth_failed"
    ]
    assert failures == ["profile 2 requires TLS"]


async def test_plain_ws_is_off_by_default(tmp_path: Path) -> None:
    settings = parse_settings({"ocpp": {"bind": "127.0.0.1", "port": 0}})
    controller = Controller(settings, tmp_path, SystemClock())
    ports = await controller.start()
    try:
        assert ports.ocpp_plain is None
        assert len(controller.server._servers) == 1
    finally:
        await controller.stop()
        controller.db.close()
