"""One station's OCPP-J connection: the receive loop, request dispatch and outgoing calls.

Incoming CALLs are each handled in their own task so that a handler waiting on
something slow (the CSMS, the disk) never stalls the receive loop. Outgoing
CALLs go one at a time (OCPP-J allows one outstanding request per direction).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from evsite.clock import Clock
from evsite.ocpp.frames import (
    GENERIC_ERROR,
    INTERNAL_ERROR,
    NOT_IMPLEMENTED,
    NOT_SUPPORTED,
    Call,
    CallError,
    CallResult,
    FrameError,
    encode_call,
    encode_error,
    encode_result,
    is_known_action,
    parse_frame,
    validate_payload,
)

log = logging.getLogger("evsite.ocpp")


class Connection(Protocol):
    """What a session needs from a WebSocket: duck-typed, like the ocpp library."""

    async def send(self, message: str) -> None:
        """Send one text frame."""
        ...

    async def recv(self) -> str | bytes:
        """Receive one frame."""
        ...

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection."""
        ...


Handler = Callable[["StationSession", dict[str, Any]], Awaitable[dict[str, Any]]]


class CallFailed(Exception):
    """The station answered a CALL with a CALLERROR."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description


class Relay(Protocol):
    """Answers a station's requests in place of the local handlers (the uplink's proxy mode)."""

    async def station_call(self, session: StationSession, call: Call) -> str:
        """Return the raw reply frame for the station (relayed verbatim, or answered here)."""
        ...


def encode_call_with(action: str, payload: dict[str, Any]) -> Callable[[str], str]:
    """A frame builder for call_raw from an action and payload."""
    return lambda unique_id: encode_call(unique_id, action, payload)


class InvalidRequest(ValueError):
    """A request we were asked to send does not match the OCPP 1.6 schema."""


class FloodGuard:
    """Token bucket over incoming frames; a station above it is disconnected."""

    def __init__(self, clock: Clock, rate: float, burst: int) -> None:
        self._clock = clock
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._last = clock.monotonic()

    def allow(self) -> bool:
        """Take one token; False when the bucket is empty."""
        now = self._clock.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class StationSession:
    """A connected, authenticated station."""

    _ids = itertools.count(1)

    def __init__(
        self,
        station_id: str,
        address: str,
        connection: Connection,
        clock: Clock,
        handlers: dict[str, Handler],
        *,
        response_timeout: float = 30.0,
        max_in_flight: int = 4,
        flood_rate: float = 20.0,
        flood_burst: int = 100,
        max_strikes: int = 10,
    ) -> None:
        self.station_id = station_id
        self.address = address
        self._connection = connection
        self._clock = clock
        self._handlers = handlers
        self._response_timeout = response_timeout
        self._max_in_flight = max_in_flight
        self._flood = FloodGuard(clock, flood_rate, flood_burst)
        self._max_strikes = max_strikes
        self._strikes = 0
        self._in_flight: set[asyncio.Task[None]] = set()
        self._call_lock = asyncio.Lock()
        self._pending: dict[str, asyncio.Future[CallResult | CallError]] = {}
        # Set by the uplink in proxy mode: it answers station requests (relaying them).
        self.relay: Relay | None = None
        # Our ids carry a prefix no CSMS uses, so relayed ids never collide with ours.
        self._id_prefix = f"evs-{next(self._ids)}-"
        self._id_counter = itertools.count(1)
        self.closed = asyncio.Event()
        self.close_reason = ""

    async def run(self) -> None:
        """Receive frames until the connection closes."""
        try:
            while True:
                raw = await self._connection.recv()
                if not self._flood.allow():
                    await self.close(1008, "message flood")
                    return
                await self._on_frame(raw)
                if self._strikes >= self._max_strikes:
                    await self.close(1008, "too many malformed frames")
                    return
        finally:
            for task in self._in_flight:
                task.cancel()
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("station disconnected"))
            self.closed.set()

    async def _on_frame(self, raw: str | bytes) -> None:
        try:
            frame = parse_frame(raw)
        except FrameError as exc:
            self._strikes += 1
            log.warning("%s: malformed frame: %s", self.station_id, exc.description)
            # An unreadable frame has no id to answer to; OCPP 2.0.1 uses "-1" for this.
            await self._send(encode_error(exc.unique_id or "-1", exc.code, exc.description))
            return
        if isinstance(frame, Call):
            if len(self._in_flight) >= self._max_in_flight:
                await self._send(
                    encode_error(frame.unique_id, GENERIC_ERROR, "too many requests in flight")
                )
                return
            task = asyncio.create_task(self._handle(frame))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        else:
            future = self._pending.get(frame.unique_id)
            if future is None or future.done():
                log.info(
                    "%s: answer to unknown request %s ignored", self.station_id, frame.unique_id
                )
                return
            future.set_result(frame)

    async def answer_locally(self, call: Call) -> dict[str, Any]:
        """Run evsite's own handler for a request; raises FrameError for the CALLERROR."""
        handler = self._handlers.get(call.action)
        if handler is None:
            # OCPP-J 1.6: NotImplemented = action unknown; NotSupported = known, not served.
            code = NOT_SUPPORTED if is_known_action(call.action) else NOT_IMPLEMENTED
            what = "supported here" if code == NOT_SUPPORTED else "an OCPP 1.6 action"
            raise FrameError(code, f"{call.action} is not {what}")
        validate_payload(call.action, call.payload)
        return await handler(self, call.payload)

    async def _handle(self, call: Call) -> None:
        try:
            if self.relay is not None:
                reply = await self.relay.station_call(self, call)
            else:
                reply = encode_result(call.unique_id, await self.answer_locally(call))
        except FrameError as exc:
            self._strikes += 1
            log.warning(
                "%s: %s rejected: %s %s", self.station_id, call.action, exc.code, exc.description
            )
            reply = encode_error(call.unique_id, exc.code, exc.description)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: %s handler failed", self.station_id, call.action)
            reply = encode_error(call.unique_id, INTERNAL_ERROR, "internal error")
        await self._send(reply)

    async def _send(self, message: str) -> None:
        try:
            await self._connection.send(message)
        except Exception as exc:  # the peer is gone; run() notices and cleans up
            log.debug("%s: send failed: %r", self.station_id, exc)

    def next_unique_id(self) -> str:
        """A fresh unique id for a CALL we originate."""
        return f"{self._id_prefix}{next(self._id_counter)}"

    async def call(
        self, action: str, payload: dict[str, Any], timeout: float | None = None
    ) -> dict[str, Any]:
        """Send a CALL and return the validated response payload.

        Raises CallFailed on CALLERROR, TimeoutError without an answer, and
        ConnectionError if the station goes away.
        """
        try:
            validate_payload(action, payload)
        except FrameError as exc:
            raise InvalidRequest(f"{action}: {exc.description}") from None
        answer = await self.call_raw(
            self.next_unique_id(), encode_call_with(action, payload), timeout
        )
        if isinstance(answer, CallError):
            raise CallFailed(answer.code, answer.description)
        result = answer.payload
        try:
            validate_payload(action, result, response=True)
        except FrameError as exc:
            raise CallFailed(exc.code, f"invalid response: {exc.description}") from None
        return result

    async def call_raw(
        self, unique_id: str, frame: Callable[[str], str], timeout: float | None = None
    ) -> CallResult | CallError:
        """Send a CALL built by frame(unique_id) and return the station's answer frame.

        All outgoing requests — evsite's own and those relayed from a CSMS — pass
        through here, one at a time, as OCPP-J requires.
        """
        async with self._call_lock:
            if self.closed.is_set():
                raise ConnectionError(f"{self.station_id} is not connected")
            future: asyncio.Future[CallResult | CallError] = (
                asyncio.get_running_loop().create_future()
            )
            self._pending[unique_id] = future
            try:
                try:
                    await self._connection.send(frame(unique_id))
                except Exception as exc:  # websockets.ConnectionClosed and transport errors
                    raise ConnectionError(f"{self.station_id}: {exc}") from exc
                return await asyncio.wait_for(future, timeout or self._response_timeout)
            finally:
                self._pending.pop(unique_id, None)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection (the receive loop ends)."""
        self.close_reason = reason
        try:
            await self._connection.close(code, reason)
        except Exception as exc:
            log.debug("%s: close failed: %r", self.station_id, exc)
