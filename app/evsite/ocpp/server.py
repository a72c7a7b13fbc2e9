"""The OCPP 1.6J WebSocket server: authentication, enrollment, identity guard, sessions.

`wss://HOST:PORT/ocpp/<stationId>` with subprotocol `ocpp1.6`. Before the
upgrade is accepted the station must be enrolled and prove its identity in the
way its security profile demands (1: Basic auth over ws, 2: Basic auth over
TLS, 3: client certificate). A second connection for an identity that is
already connected is refused: the first session keeps working.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import sqlite3
import ssl
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response
from websockets.protocol import State

from evsite.clock import Clock
from evsite.ocpp.events import EventBus, StationConnected, StationDisconnected
from evsite.ocpp.session import Handler, StationSession
from evsite.store.audit import AuditSink
from evsite.store.stations import StationRepository

log = logging.getLogger("evsite.ocpp")
SUBPROTOCOL = "ocpp1.6"
MAX_STATION_ID = 48


@dataclass(frozen=True)
class ServerSettings:
    """How the station server listens and what it tolerates."""

    bind: str = "0.0.0.0"
    port: int = 8887
    plain_ws: bool = False
    plain_port: int = 8886
    max_frame_bytes: int = 64 * 1024
    response_timeout: float = 30.0
    flood_rate: float = 20.0
    flood_burst: int = 100
    ping_interval: float = 60.0


def station_id_from_path(path: str) -> str | None:
    """The station id of `/ocpp/<id>`, or None for any other path."""
    parsed = urllib.parse.urlsplit(path).path
    if not parsed.startswith("/ocpp/"):
        return None
    station_id = urllib.parse.unquote(parsed[len("/ocpp/") :])
    if (
        not 1 <= len(station_id) <= MAX_STATION_ID
        or "/" in station_id
        or not station_id.isprintable()
        or station_id != station_id.strip()
    ):
        return None
    return station_id


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """(username, password) from an Authorization: Basic header, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


class StationServer:
    """Accepts station connections and keeps the registry of live sessions."""

    def __init__(
        self,
        settings: ServerSettings,
        stations: StationRepository,
        audit: AuditSink,
        events: EventBus,
        clock: Clock,
        handlers: dict[str, Handler],
        tls: ssl.SSLContext | None,
    ) -> None:
        self._settings = settings
        self._stations = stations
        self._audit = audit
        self._events = events
        self._clock = clock
        self._handlers = handlers
        self._tls = tls
        self._sessions: dict[str, StationSession] = {}
        # Identities whose upgrade was accepted but whose session has not started yet.
        self._reserved: dict[str, ServerConnection] = {}
        self._servers: list[Server] = []
        self.on_session: list[Callable[[StationSession], None]] = []

    @property
    def sessions(self) -> dict[str, StationSession]:
        """Live sessions by station id (read-only use)."""
        return self._sessions

    def session(self, station_id: str) -> StationSession | None:
        """The live session of a station, if connected."""
        return self._sessions.get(station_id)

    async def start(self) -> list[int]:
        """Start listening; return the bound ports (TLS first, then plain if on)."""
        ports = []
        if self._tls is not None:
            ports.append(await self._listen(self._settings.port, self._tls))
        if self._settings.plain_ws:
            ports.append(await self._listen(self._settings.plain_port, None))
        return ports

    async def _listen(self, port: int, tls: ssl.SSLContext | None) -> int:
        server = await serve(
            self._serve,
            self._settings.bind,
            port,
            ssl=tls,
            subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
            process_request=self._process_request,
            # Per-message deflate costs ~300 KiB of zlib state per connection and invites
            # compression attacks; OCPP frames are small.
            compression=None,
            server_header=None,
            max_size=self._settings.max_frame_bytes,
            max_queue=4,
            ping_interval=self._settings.ping_interval,
            ping_timeout=self._settings.ping_interval,
            open_timeout=10,
        )
        self._servers.append(server)
        bound: int = server.sockets[0].getsockname()[1]
        log.info("OCPP %s listening on %s:%d", "wss" if tls else "ws", self._settings.bind, bound)
        return bound

    async def stop(self) -> None:
        """Stop accepting and close every session."""
        for server in self._servers:
            server.close()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()

    def _refuse(
        self,
        connection: ServerConnection,
        status: HTTPStatus,
        why: str,
        event: str | None,
        station_id: str,
        address: str,
    ) -> Response:
        if event:
            self._audit.record(
                event,
                actor=station_id or "-",
                source=address,
                outcome="refused",
                detail={"reason": why},
            )
        log.warning("refused %s from %s: %s", station_id or "?", address, why)
        response = connection.respond(status, f"{status.phrase}\n")
        if status == HTTPStatus.UNAUTHORIZED:
            response.headers["WWW-Authenticate"] = 'Basic realm="evsite OCPP"'
        return response

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        address = _address(connection)
        station_id = station_id_from_path(request.path)
        if station_id is None:
            return self._refuse(
                connection, HTTPStatus.NOT_FOUND, "not an OCPP path", None, "", address
            )
        offered = [
            p.strip()
            for h in request.headers.get_all("Sec-WebSocket-Protocol")
            for p in h.split(",")
        ]
        if SUBPROTOCOL not in offered:
            return self._refuse(
                connection,
                HTTPStatus.BAD_REQUEST,
                f"subprotocol {SUBPROTOCOL} not offered",
                None,
                station_id,
                address,
            )
        record = self._stations.get(station_id)
        if record is None:
            if self._stations.note_pending(station_id, address, "connection"):
                self._audit.record(
                    "station.enrollment_requested",
                    actor=station_id,
                    source=address,
                    outcome="pending",
                )
            return self._refuse(
                connection, HTTPStatus.NOT_FOUND, "not enrolled", None, station_id, address
            )
        problem = self._authenticate(connection, request, station_id, record.security_profile)
        if problem:
            return self._refuse(
                connection,
                HTTPStatus.UNAUTHORIZED,
                problem,
                "station.auth_failed",
                station_id,
                address,
            )
        if self._is_taken(station_id):
            return self._refuse(
                connection,
                HTTPStatus.CONFLICT,
                "identity already connected",
                "station.identity_clash",
                station_id,
                address,
            )
        self._reserved[station_id] = connection
        return None

    def _authenticate(
        self, connection: ServerConnection, request: Request, station_id: str, profile: int
    ) -> str | None:
        """None if the station proved its identity as its profile requires, else why not."""
        secure = connection.transport.get_extra_info("ssl_object") is not None
        if profile in (2, 3) and not secure:
            return f"profile {profile} requires TLS"
        if profile == 3:
            return _client_cert_problem(connection, station_id)
        credentials = basic_credentials(request)
        if credentials is None:
            return "no Basic credentials"
        user, key = credentials
        if user != station_id:
            return "username differs from the station id in the path"
        if not self._stations.check_key(station_id, key):
            return "wrong key"
        return None

    def _is_taken(self, station_id: str) -> bool:
        if station_id in self._sessions:
            return True
        reserved = self._reserved.get(station_id)
        if reserved is not None and reserved.state in (State.CONNECTING, State.OPEN):
            return True
        self._reserved.pop(station_id, None)
        return False

    async def _serve(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        station_id = station_id_from_path(connection.request.path) or ""
        address = _address(connection)
        if self._reserved.get(station_id) is not connection:
            await connection.close(1008, "identity not reserved")
            return
        del self._reserved[station_id]
        session = StationSession(
            station_id,
            address,
            connection,
            self._clock,
            self._handlers,
            response_timeout=self._settings.response_timeout,
            flood_rate=self._settings.flood_rate,
            flood_burst=self._settings.flood_burst,
        )
        self._sessions[station_id] = session
        try:
            try:
                await self._stations.record_connection(station_id, address)
            except sqlite3.IntegrityError:
                # Removed between the upgrade and now: cut it off like any removed station.
                await session.close(1008, "station removed")
                self._sessions.pop(station_id, None)
                return
            self._events.publish(StationConnected(station_id, address))
            for callback in self.on_session:
                callback(session)
            await session.run()
        except Exception as exc:  # websockets.ConnectionClosed and friends
            log.info("%s: connection ended: %r", station_id, exc)
        finally:
            if self._sessions.get(station_id) is session:
                del self._sessions[station_id]
            if session.close_reason in ("message flood", "too many malformed frames"):
                self._audit.record(
                    "station.disconnected_abuse",
                    actor=station_id,
                    source=address,
                    outcome="closed",
                    detail={"reason": session.close_reason},
                )
            self._events.publish(StationDisconnected(station_id, session.close_reason or "closed"))
            session.closed.set()  # also when the session never ran

    async def disconnect(self, station_id: str, reason: str) -> bool:
        """Close a station's connection at once (e.g. it was removed); True if it was open."""
        session = self._sessions.get(station_id)
        reserved = self._reserved.pop(station_id, None)
        if reserved is not None:
            await reserved.close(1008, reason)
        if session is None:
            return reserved is not None
        await session.close(1008, reason)
        await asyncio.wait_for(session.closed.wait(), 5)
        return True


def _address(connection: ServerConnection) -> str:
    peer: Any = connection.remote_address
    return str(peer[0]) if peer else "?"


def _client_cert_problem(connection: ServerConnection, station_id: str) -> str | None:
    ssl_object = connection.transport.get_extra_info("ssl_object")
    cert = ssl_object.getpeercert() if ssl_object is not None else None
    if not cert:
        return "profile 3 requires a client certificate signed by the configured CA"
    names = [value for rdn in cert.get("subject", ()) for key, value in rdn if key == "commonName"]
    if station_id not in names:
        return "client certificate common name differs from the station id"
    return None
