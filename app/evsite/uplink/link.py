"""One OCPP-J client connection to a CSMS for one identity, kept up with back-off.

Incoming CALLs from the CSMS are each answered in their own task, so a CSMS
request never waits behind one of ours (and ours never behind theirs). Our
CALLs go one at a time, as OCPP-J requires. An answer that arrives after its
caller gave up is kept: the same message re-sent later (same unique id, same
text) collects it instead of being sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from evsite.ocpp.frames import INTERNAL_ERROR, Call, CallError, CallResult, FrameError, encode_error
from evsite.ocpp.frames import parse_frame as parse
from evsite.store.audit import AuditSink
from evsite.uplink.backoff import Backoff, Pacer
from evsite.uplink.tls import classify_failure

log = logging.getLogger("evsite.uplink")

CallHandler = Callable[[Call], Awaitable[str]]
Dial = Callable[[], Awaitable[ClientConnection]]
MAX_KEPT_ANSWERS = 256


class LinkState(StrEnum):
    """Where a link is in its life."""

    IDLE = "idle"
    PACING = "pacing"  # waiting for a connection slot
    CONNECTING = "connecting"
    ONLINE = "online"
    WAITING = "waiting"  # backing off after a failure or a drop
    STOPPED = "stopped"


@dataclass
class _Sent:
    frame: str
    future: asyncio.Future[CallResult | CallError]


class UpstreamLink:
    """A reconnecting OCPP-J client for one identity."""

    def __init__(
        self,
        identity: str,
        dial: Dial,
        on_call: CallHandler,
        audit: AuditSink,
        backoff: Backoff,
        pacer: Pacer,
    ) -> None:
        self.identity = identity
        self._dial = dial
        self._on_call = on_call
        self._audit = audit
        self._backoff = backoff
        self._pacer = pacer
        self.state = LinkState.IDLE
        self.online = asyncio.Event()
        # Set whenever no connection attempt is under way (its outcome is known).
        self.settled = asyncio.Event()
        self.settled.set()
        self._ws: ClientConnection | None = None
        self._sent: dict[str, _Sent] = {}
        self._send_lock = asyncio.Lock()
        self._answering: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._last_failure = ""
        self.listeners: list[Callable[[bool], None]] = []
        self.connections = 0

    @property
    def first_attempt_pending(self) -> bool:
        """Coming up with no failure yet: worth a short wait rather than a local answer."""
        return self.state in (LinkState.PACING, LinkState.CONNECTING) and self._backoff.attempt == 0

    def start(self) -> None:
        """Begin connecting (idempotent)."""
        if self._task is None or self._task.done():
            self.state = LinkState.PACING
            self.settled.clear()
            self._task = asyncio.create_task(self._run(), name=f"uplink-{self.identity}")

    async def stop(self) -> None:
        """Disconnect for good."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for answering in list(self._answering):
            answering.cancel()
        self.state = LinkState.STOPPED

    async def reconnect(self) -> None:
        """Drop the connection (e.g. new credentials); the link comes back by itself."""
        ws = self._ws
        if ws is not None:
            await ws.close(1000, "reconnecting")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self.state = LinkState.PACING
            self.settled.clear()
            wait = self._pacer.reserve(loop.time())
            if wait:
                await asyncio.sleep(wait)
            self.state = LinkState.CONNECTING
            try:
                ws = await self._dial()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed(exc)
                self.state = LinkState.WAITING
                self.settled.set()
                await asyncio.sleep(self._backoff.next_delay())
                continue
            self._backoff.reset()
            self._last_failure = ""
            await self._serve(ws)
            self.state = LinkState.WAITING
            await asyncio.sleep(self._backoff.next_delay())

    def _failed(self, exc: Exception) -> None:
        failure = classify_failure(exc)
        reason = failure.reason if failure else f"{type(exc).__name__}: {exc}"[:200]
        log.warning("%s: CSMS connection failed: %s", self.identity, reason)
        # Audit a security failure once per kind, not on every retry of the same one.
        if failure is not None and reason != self._last_failure:
            self._audit.record(
                failure.event,
                actor=self.identity,
                outcome="refused",
                detail={"reason": reason, "type": failure.ocpp_type},
            )
        self._last_failure = reason

    async def _serve(self, ws: ClientConnection) -> None:
        self._ws = ws
        self.connections += 1
        self.state = LinkState.ONLINE
        self.online.set()
        self.settled.set()
        log.info("%s: CSMS link up", self.identity)
        self._notify(True)
        try:
            async for raw in ws:
                self._on_frame(ws, raw)
        except ConnectionClosed as exc:
            log.info("%s: CSMS link closed: %s", self.identity, exc)
        except Exception as exc:
            log.warning("%s: CSMS link failed: %r", self.identity, exc)
        finally:
            self._ws = None
            self.online.clear()
            for key, sent in list(self._sent.items()):
                if not sent.future.done():
                    sent.future.set_exception(ConnectionError("CSMS link lost"))
                    sent.future.exception()  # nobody may be waiting any more: not an error
                    del self._sent[key]
            self._notify(False)
            await ws.close()

    def _notify(self, online: bool) -> None:
        for listener in self.listeners:
            try:
                listener(online)
            except Exception:
                log.exception("%s: link listener failed", self.identity)

    def _on_frame(self, ws: ClientConnection, raw: str | bytes) -> None:
        try:
            frame = parse(raw)
        except FrameError as exc:
            log.warning("%s: malformed frame from the CSMS: %s", self.identity, exc.description)
            if exc.unique_id is not None:
                self._reply_later(ws, encode_error(exc.unique_id, exc.code, exc.description))
            return
        if isinstance(frame, Call):
            task = asyncio.create_task(self._answer(ws, frame))
            self._answering.add(task)
            task.add_done_callback(self._answering.discard)
            return
        sent = self._sent.get(frame.unique_id)
        if sent is None or sent.future.done():
            log.info("%s: CSMS answer to unknown request %s", self.identity, frame.unique_id)
            return
        sent.future.set_result(frame)

    def _reply_later(self, ws: ClientConnection, text: str) -> None:
        task = asyncio.create_task(_send_quietly(ws, text))
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)

    async def _answer(self, ws: ClientConnection, call: Call) -> None:
        try:
            reply = await self._on_call(call)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: handling %s from the CSMS failed", self.identity, call.action)
            reply = encode_error(call.unique_id, INTERNAL_ERROR, "internal error")
        await _send_quietly(ws, reply)

    async def request(self, unique_id: str, frame: str, timeout: float) -> CallResult | CallError:
        """Send a CALL and return the CSMS's answer.

        The same message (unique id and text) still awaiting or holding an
        unclaimed answer is not sent again. Raises TimeoutError, or
        ConnectionError when the link is down or drops.
        """
        async with asyncio.timeout(timeout):
            async with self._send_lock:
                sent = self._sent.get(unique_id)
                if sent is None or sent.frame != frame:
                    ws = self._ws
                    if ws is None:
                        raise ConnectionError(f"{self.identity}: CSMS link is down")
                    sent = _Sent(frame, asyncio.get_running_loop().create_future())
                    self._keep(unique_id, sent)
                    try:
                        await ws.send(frame)
                    except ConnectionClosed as exc:
                        self._sent.pop(unique_id, None)
                        raise ConnectionError(f"{self.identity}: CSMS link lost") from exc
                answer = await asyncio.shield(sent.future)
        if self._sent.get(unique_id) is sent:
            del self._sent[unique_id]
        return answer

    def _keep(self, unique_id: str, sent: _Sent) -> None:
        self._sent[unique_id] = sent
        if len(self._sent) > MAX_KEPT_ANSWERS:
            for key in [k for k, s in self._sent.items() if s.future.done()][:32]:
                del self._sent[key]


async def _send_quietly(ws: ClientConnection, text: str) -> None:
    # If the CSMS went away it will ask again after reconnecting.
    with contextlib.suppress(ConnectionClosed):
        await ws.send(text)
