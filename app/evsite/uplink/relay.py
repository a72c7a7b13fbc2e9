"""Station requests in proxy/group mode: run locally, relay verbatim, or journal and answer.

Every known request is first handled by evsite's own handlers (validation,
storage, events), with transaction ids translated to evsite's local ids, so
history and load management see everything. Then it goes to the CSMS with the
station's unique id and exact text, and the CSMS's answer goes back verbatim.
When the CSMS cannot answer in time the station gets evsite's local answer and
transaction messages are journaled for replay.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from evsite.ocpp.frames import (
    GENERIC_ERROR,
    NOT_IMPLEMENTED,
    NOT_SUPPORTED,
    Call,
    CallResult,
    FrameError,
    encode_error,
    encode_result,
)
from evsite.ocpp.session import StationSession
from evsite.store.commit import Writer
from evsite.uplink.authcache import AuthCache
from evsite.uplink.authorize import UplinkAuthorizer
from evsite.uplink.channel import Channel
from evsite.uplink.outbox import Outbox
from evsite.uplink.settings import OnlineStrategy, UplinkSettings
from evsite.uplink.txmap import TxMap, transaction_id_of

log = logging.getLogger("evsite.uplink")


class StationRelay:
    """The `Relay` of sessions whose station belongs to a group with a CSMS."""

    def __init__(
        self,
        settings: UplinkSettings,
        channel_of: Callable[[str], Channel | None],
        outbox: Outbox,
        txmap: TxMap,
        writer: Writer,
        authorizer: UplinkAuthorizer,
        cache: AuthCache,
    ) -> None:
        self._settings = settings
        self._channel_of = channel_of
        self._outbox = outbox
        self._txmap = txmap
        self._writer = writer
        self._auth = authorizer
        self._cache = cache
        self.journaled = 0

    async def station_call(self, session: StationSession, call: Call) -> str:
        """Return the raw reply for the station."""
        channel = self._channel_of(session.station_id)
        if channel is None:
            return encode_result(call.unique_id, await session.answer_locally(call))
        if call.action == "StartTransaction":
            return await self._start(session, channel, call)
        if call.action == "Authorize":
            return await self._authorize(session, channel, call)
        return await self._relay(session, channel, call)

    async def _local(self, session: StationSession, call: Call) -> dict[str, Any] | None:
        """evsite's own answer, with the station's transaction id translated to the local one."""
        station_tx = transaction_id_of(call.payload)
        if station_tx is not None:
            link = self._txmap.by_station_tx(session.station_id, station_tx)
            if link is not None and link.local_tx != station_tx:
                call = replace(call, payload={**call.payload, "transactionId": link.local_tx})
        try:
            return await session.answer_locally(call)
        except FrameError as exc:
            if exc.code in (NOT_IMPLEMENTED, NOT_SUPPORTED):
                return None  # a vendor or unserved action: the CSMS may know it
            raise  # malformed: the station gets the CALLERROR, the CSMS never sees it

    def _journalable(self, call: Call) -> bool:
        if call.action not in self._settings.journal:
            return False
        return call.action != "MeterValues" or transaction_id_of(call.payload) is not None

    async def _journal(self, channel: Channel, call: Call) -> None:
        await self._outbox.add(
            channel.identity,
            call.unique_id,
            call.action,
            call.raw,
            station_tx=transaction_id_of(call.payload),
        )
        self.journaled += 1
        channel.kick()

    def _fallback(self, call: Call, local: dict[str, Any] | None) -> str:
        if local is None:
            return encode_error(call.unique_id, GENERIC_ERROR, "the CSMS is not reachable")
        return encode_result(call.unique_id, local)

    async def _relay(self, session: StationSession, channel: Channel, call: Call) -> str:
        local = await self._local(session, call)
        journalable = self._journalable(call)
        frame = channel.upstream_frame(call.raw, transaction_id_of(call.payload))
        if journalable and (frame is None or channel.must_journal()):
            await self._journal(channel, call)
            return await self._offline_answer(session, call, local)
        try:
            answer = await channel.send_live(call.unique_id, frame or call.raw)
        except (TimeoutError, ConnectionError) as exc:
            log.info("%s: %s answered locally: %r", session.station_id, call.action, exc)
            if journalable:
                await self._journal(channel, call)
            return await self._offline_answer(session, call, local)
        if isinstance(answer, CallResult):
            await self._observe(call, answer)
        return answer.raw

    async def _offline_answer(
        self, session: StationSession, call: Call, local: dict[str, Any] | None
    ) -> str:
        return self._fallback(call, await self._offline_payload(session, call, local))

    async def _offline_payload(
        self, session: StationSession, call: Call, local: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        if local is not None and "idTagInfo" in local and call.payload.get("idTag"):
            # Decided again now that the CSMS is known to be away: the offline strategy.
            decision = await self._auth.authorize(session.station_id, call.payload["idTag"])
            local = {**local, "idTagInfo": decision.id_tag_info()}
        return local

    async def _observe(self, call: Call, answer: CallResult) -> None:
        info = answer.payload.get("idTagInfo")
        id_tag = call.payload.get("idTag")
        if isinstance(info, dict) and isinstance(id_tag, str) and "status" in info:
            await self._cache.put(id_tag, info)

    async def _authorize(self, session: StationSession, channel: Channel, call: Call) -> str:
        strategy = channel.group.online
        id_tag = call.payload.get("idTag")
        if (
            strategy == OnlineStrategy.LOCAL_ONLY
            or not channel.available
            or (
                strategy == OnlineStrategy.LOCAL_FIRST
                and isinstance(id_tag, str)
                and self._auth.accepted_locally(session.station_id, id_tag)
            )
        ):
            return encode_result(call.unique_id, await session.answer_locally(call))
        try:
            answer = await channel.send_live(call.unique_id, call.raw)
        except (TimeoutError, ConnectionError):
            return encode_result(call.unique_id, await session.answer_locally(call))
        if isinstance(answer, CallResult):
            await self._observe(call, answer)
        return answer.raw

    async def _start(self, session: StationSession, channel: Channel, call: Call) -> str:
        local = await self._local(session, call)
        assert local is not None  # StartTransaction always has a local handler
        local_tx = int(local["transactionId"])
        station = session.station_id
        if not channel.must_journal():
            try:
                answer = await channel.send_live(call.unique_id, call.raw)
            except (TimeoutError, ConnectionError) as exc:
                log.info("%s: StartTransaction answered locally: %r", station, exc)
            else:
                csms_tx = (
                    transaction_id_of(answer.payload) if isinstance(answer, CallResult) else None
                )
                if isinstance(answer, CallResult) and csms_tx is not None:
                    await self._writer.write(
                        lambda conn: self._txmap.link_sql(conn, station, csms_tx, local_tx, csms_tx)
                    )
                    await self._observe(call, answer)
                return answer.raw
        station_tx = self._txmap.offline_station_tx(station, local_tx)

        def journal(conn: Any) -> None:
            self._txmap.link_sql(conn, station, station_tx, local_tx, None)
            self._outbox.insert_sql(
                conn, station, call.unique_id, call.action, call.raw, None, local_tx
            )

        await self._writer.write(journal)
        self._outbox.added(station)
        self.journaled += 1
        channel.kick()
        payload = await self._offline_payload(session, call, local) or local
        return encode_result(call.unique_id, {**payload, "transactionId": station_tx})
