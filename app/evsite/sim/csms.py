"""A simulated CSMS: the `ocpp` library's ChargePoint as central system on a TLS WebSocket server.

It records every message it receives with its unique id (to check exactly-once
and order), answers a repeated unique id with the answer it gave the first
time (the de-duplication evsite's replay relies on), and can be stopped,
restarted on the same port, slowed down, made to swallow requests, and made to
send its own requests at awkward moments (hooks run before it answers).
`SimPki` makes the certificates it (and tests) need.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import contextvars
import datetime as dt
import ipaddress
import itertools
import json
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any, TypeVar, cast

import ocpp.messages
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from evsite.clock import SystemClock, iso_utc

log = logging.getLogger("evsite.sim.csms")
_F = TypeVar("_F", bound=Callable[..., Any])


def handles(action: str) -> Callable[[_F], _F]:
    """The library's @on, typed."""
    return cast(Callable[[_F], _F], on(action))


_answering: contextvars.ContextVar[str | None] = contextvars.ContextVar("answering", default=None)

Hook = Callable[["CsmsChargePoint", "Received"], Awaitable[None]]


@dataclass(frozen=True)
class Received:
    """One CALL the CSMS received."""

    identity: str
    unique_id: str
    action: str
    payload: dict[str, Any]
    raw: str
    duplicate: bool
    at: float


class CsmsChargePoint(ChargePoint):  # type: ignore[misc]
    """The central system's side of one identity's connection."""

    def __init__(self, identity: str, connection: ServerConnection, csms: SimCsms) -> None:
        super().__init__(identity, connection, response_timeout=30)
        self.csms = csms
        self._tasks: set[asyncio.Task[None]] = set()

    async def route_message(self, raw_msg: str) -> None:
        """Answer every CALL in its own task, so our own calls can be answered meanwhile."""
        try:
            message = json.loads(raw_msg)
        except ValueError:
            return
        if isinstance(message, list) and message and message[0] == 2 and len(message) == 4:
            task = asyncio.create_task(self._call(raw_msg, message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        await super().route_message(raw_msg)

    async def _call(self, raw: str, message: list[Any]) -> None:
        _, unique_id, action, payload = message
        key = (self.id, unique_id)
        duplicate = key in self.csms.seen
        self.csms.seen.add(key)
        received = Received(
            self.id, unique_id, action, payload, raw, duplicate, asyncio.get_running_loop().time()
        )
        self.csms.received.append(received)
        # De-duplication by (identity, unique id): a repeat gets the first answer again.
        previous = self.csms.answers.get(key)
        if previous is not None:
            await self._connection.send(previous)
            return
        if key in self.csms.in_progress:
            return  # the first copy is still being answered
        self.csms.in_progress.add(key)
        try:
            if action in self.csms.swallow:
                return
            hook = self.csms.hooks.pop(action, None)
            if hook is not None:
                await hook(self, received)
            if self.csms.delay:
                await asyncio.sleep(self.csms.delay)
            _answering.set(unique_id)
            await super().route_message(raw)
        finally:
            self.csms.in_progress.discard(key)

    async def _send(self, message: str) -> None:
        unique_id = _answering.get()
        if unique_id is not None and message.startswith(("[3,", "[4,")):
            self.csms.answers[(self.id, unique_id)] = message
        await self._connection.send(message)

    @handles("BootNotification")
    def on_boot(self, **_: Any) -> call_result.BootNotification:
        return call_result.BootNotification(
            current_time=self.csms.now(), interval=self.csms.heartbeat_interval, status="Accepted"
        )

    @handles("Heartbeat")
    def on_heartbeat(self) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=self.csms.now())

    @handles("Authorize")
    def on_authorize(self, id_tag: str) -> call_result.Authorize:
        return call_result.Authorize(id_tag_info={"status": self.csms.status_of(id_tag)})

    @handles("StartTransaction")
    def on_start(self, id_tag: str, **_: Any) -> call_result.StartTransaction:
        transaction_id = next(self.csms.transaction_ids)
        self.csms.transactions[transaction_id] = self.id
        return call_result.StartTransaction(
            transaction_id=transaction_id, id_tag_info={"status": self.csms.status_of(id_tag)}
        )

    @handles("StopTransaction")
    def on_stop(self, **_: Any) -> call_result.StopTransaction:
        return call_result.StopTransaction()

    @handles("MeterValues")
    def on_meter_values(self, **_: Any) -> call_result.MeterValues:
        return call_result.MeterValues()

    @handles("StatusNotification")
    def on_status(self, **_: Any) -> call_result.StatusNotification:
        return call_result.StatusNotification()

    @handles("DataTransfer")
    def on_data_transfer(self, vendor_id: str, **_: Any) -> call_result.DataTransfer:
        return call_result.DataTransfer(status="Accepted", data=f"echo:{vendor_id}")

    @handles("SecurityEventNotification")
    def on_security_event(self, **_: Any) -> call_result.SecurityEventNotification:
        return call_result.SecurityEventNotification()

    @handles("FirmwareStatusNotification")
    def on_firmware_status(self, **_: Any) -> call_result.FirmwareStatusNotification:
        return call_result.FirmwareStatusNotification()

    @handles("DiagnosticsStatusNotification")
    def on_diagnostics_status(self, **_: Any) -> call_result.DiagnosticsStatusNotification:
        return call_result.DiagnosticsStatusNotification()


@dataclass
class SimCsms:
    """A CSMS on 127.0.0.1 over TLS that records what it receives."""

    cert: Path
    key: Path
    host: str = "127.0.0.1"
    port: int = 0
    passwords: dict[str, str] | None = None  # identity -> Basic password (None: any)
    client_ca: Path | None = None  # profile 3: require a client certificate from this CA
    tls_versions: tuple[ssl.TLSVersion, ssl.TLSVersion] = (
        ssl.TLSVersion.TLSv1_2,
        ssl.TLSVersion.MAXIMUM_SUPPORTED,
    )
    heartbeat_interval: int = 300
    delay: float = 0.0
    swallow: set[str] = field(default_factory=set)
    hooks: dict[str, Hook] = field(default_factory=dict)
    rejected_tags: set[str] = field(default_factory=set)
    first_transaction_id: int = 5000
    received: list[Received] = field(default_factory=list)
    answers: dict[tuple[str, str], str] = field(default_factory=dict)
    seen: set[tuple[str, str]] = field(default_factory=set)
    in_progress: set[tuple[str, str]] = field(default_factory=set)
    points: dict[str, CsmsChargePoint] = field(default_factory=dict)
    transactions: dict[int, str] = field(default_factory=dict)
    refused: list[tuple[str, str]] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self) -> None:
        self.transaction_ids = itertools.count(self.first_transaction_id)
        self._server: Server | None = None

    def now(self) -> str:
        """An OCPP timestamp."""
        return iso_utc(SystemClock().now())

    def status_of(self, id_tag: str) -> str:
        """Accepted unless the test put the tag on the rejected list."""
        return "Invalid" if id_tag in self.rejected_tags else "Accepted"

    def url(self, hostname: str = "localhost") -> str:
        """The base URL identities are appended to."""
        return f"wss://{hostname}:{self.port}/ocpp"

    def _tls(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        low, high = self.tls_versions
        if low < ssl.TLSVersion.TLSv1_2:
            # Old protocol versions are refused at OpenSSL's default security level.
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
        context.minimum_version = low
        context.maximum_version = high
        context.load_cert_chain(self.cert, self.key)
        if self.client_ca is not None:
            context.load_verify_locations(cafile=str(self.client_ca))
            context.verify_mode = ssl.CERT_REQUIRED
        return context

    async def start(self) -> int:
        """Listen (on the same port again after a stop); return the port."""
        self._server = await serve(
            self._serve,
            self.host,
            self.port,
            ssl=self._tls(),
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            process_request=self._check,
            compression=None,
            ping_interval=None,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """Close the listener and every connection."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()
        self.points.clear()

    async def restart(self) -> None:
        """Come back on the same port."""
        await self.stop()
        await self.start()

    @property
    def running(self) -> bool:
        """Listening."""
        return self._server is not None

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        identity = request.path.rsplit("/", 1)[-1]
        if self.passwords is None or self.client_ca is not None:
            return None
        header = request.headers.get("Authorization", "")
        expected = self.passwords.get(identity)
        token = base64.b64encode(f"{identity}:{expected}".encode()).decode()
        if expected is None or header != f"Basic {token}":
            self.refused.append((identity, "bad credentials"))
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
        return None

    async def _serve(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        identity = connection.request.path.rsplit("/", 1)[-1]
        point = CsmsChargePoint(identity, connection, self)
        self.points[identity] = point
        self.connections += 1
        try:
            await point.start()
        except Exception as exc:  # the connection ended
            log.debug("%s: %r", identity, exc)
        finally:
            if self.points.get(identity) is point:
                del self.points[identity]

    async def send(self, identity: str, message: Any, timeout: float = 10) -> Any:
        """Send a request (an `ocpp.v16.call.*`) to an identity; return the library's result."""
        point = self.points[identity]
        return await asyncio.wait_for(point.call(message, suppress=False), timeout)

    def calls(
        self, identity: str | None = None, action: str | None = None, duplicates: bool = False
    ) -> list[Received]:
        """Received CALLs in order, optionally of one identity/action, without repeats."""
        return [
            r
            for r in self.received
            if (identity is None or r.identity == identity)
            and (action is None or r.action == action)
            and (duplicates or not r.duplicate)
        ]


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll a condition until it holds (TimeoutError after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.01)


class SimPki:
    """A throw-away CA with server and client certificates (ECDSA P-256) in a directory."""

    def __init__(self, directory: Path, name: str = "Sim CA") -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.UTC)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(self._name)
            .issuer_name(self._name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_encipherment=False,
                    content_commitment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )
        self.ca = directory / f"{name.replace(' ', '_')}.pem"
        self.ca.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))

    def issue(
        self,
        stem: str,
        common_name: str,
        *,
        dns: Iterable[str] = ("localhost",),
        ips: Iterable[str] = ("127.0.0.1",),
        client: bool = False,
        expired: bool = False,
        self_signed: bool = False,
    ) -> tuple[Path, Path]:
        """Write `<stem>.crt` and `<stem>.key`; return their paths."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        start, end = (
            (now - dt.timedelta(days=30), now - dt.timedelta(days=1))
            if expired
            else (now - dt.timedelta(minutes=5), now + dt.timedelta(days=365))
        )
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        alt: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
        alt += [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject if self_signed else self._name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if alt and not client:
            builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
        cert = builder.sign(key if self_signed else self._key, hashes.SHA256())
        cert_path = self.directory / f"{stem}.crt"
        key_path = self.directory / f"{stem}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key_path.chmod(0o600)
        return cert_path, key_path


def main(argv: list[str] | None = None) -> None:
    """`python -m evsite.sim.csms DIR`: a CSMS with a fresh CA in DIR; prints `PORT <n>`."""
    parser = argparse.ArgumentParser(description="simulated CSMS over TLS")
    parser.add_argument("directory", type=Path, help="where the CA and certificate are written")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)

    async def run() -> None:
        pki = SimPki(args.directory)
        cert, key = pki.issue("csms", "localhost")
        csms = SimCsms(cert, key, port=args.port)
        port = await csms.start()
        print(f"PORT {port} CA {pki.ca}", flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()

    logging.getLogger("ocpp").setLevel(logging.WARNING)
    # A CSMS that answers at once: validate on the loop, not through a thread pool.
    ocpp.messages.ASYNC_VALIDATION = False
    asyncio.run(run())


if __name__ == "__main__":
    main()
