"""Requests from the CSMS: relayed verbatim to the station, except what evsite must answer.

evsite answers itself: ChangeConfiguration of SecurityProfile (never lowered)
and AuthorizationKey (the upstream key belongs to the evsite-CSMS link, not
to the station), and, in "combine" mode, Set/ClearChargingProfile, which go
to the load manager instead. RemoteStopTransaction and TxProfiles are given the
station's own transaction id; SendLocalList is kept as a copy for offline use.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from evsite.ocpp.frames import (
    GENERIC_ERROR,
    NOT_IMPLEMENTED,
    NOT_SUPPORTED,
    Call,
    CallError,
    CallResult,
    FrameError,
    encode_error,
    encode_result,
    validate_payload,
)
from evsite.ocpp.session import StationSession
from evsite.store.audit import AuditSink
from evsite.uplink.authcache import CsmsLocalLists, LocalListError
from evsite.uplink.credentials import CredentialError, CredentialStore, check_password
from evsite.uplink.dialer import Dialer
from evsite.uplink.profiles import CsmsProfiles
from evsite.uplink.settings import GroupSettings, ProfilePolicy, UplinkSettings
from evsite.uplink.txmap import TxMap, rewrite_call, transaction_id_of

log = logging.getLogger("evsite.uplink")
STATION_TIMEOUT = 25.0
# Answers a CSMS request to the controller's own identity; None: not an action it serves.
ControllerHandler = Callable[[Call], Awaitable[str | None]]
# Actions whose payload evsite reads or acts on: checked against the schema first.
_INSPECTED = frozenset(
    {
        "ChangeConfiguration",
        "SetChargingProfile",
        "ClearChargingProfile",
        "RemoteStopTransaction",
        "SendLocalList",
    }
)


class CsmsCalls:
    """Answers (or relays) what a CSMS asks of one identity."""

    def __init__(
        self,
        settings: UplinkSettings,
        session_of: Callable[[str], StationSession | None],
        credentials: CredentialStore,
        dialer: Dialer,
        profiles: CsmsProfiles,
        local_lists: CsmsLocalLists,
        txmap: TxMap,
        audit: AuditSink,
        reconnect: Callable[[str], Awaitable[None]],
    ) -> None:
        self._settings = settings
        self._session_of = session_of
        self._credentials = credentials
        self._dialer = dialer
        self._profiles = profiles
        self._lists = local_lists
        self._txmap = txmap
        self._audit = audit
        self._reconnect = reconnect
        self._tasks: set[asyncio.Task[None]] = set()
        self.controller_handler: ControllerHandler | None = None  # e.g. firmware updates

    async def handle(self, identity: str, group: GroupSettings, call: Call) -> str:
        """The raw reply to one CSMS request."""
        if call.action in _INSPECTED:
            try:
                validate_payload(call.action, call.payload)
            except FrameError as exc:
                return encode_error(call.unique_id, exc.code, exc.description)
        if call.action == "ChangeConfiguration":
            status = self._change_configuration(identity, group, call.payload)
            if status is not None:
                return encode_result(call.unique_id, {"status": status})
        if identity == self._settings.controller_id:
            if self.controller_handler is not None:
                reply = await self.controller_handler(call)
                if reply is not None:
                    return reply
            return encode_error(
                call.unique_id, NOT_SUPPORTED, f"{call.action} is not served by the controller"
            )
        if call.action == "SetChargingProfile":
            return await self._set_profile(identity, call)
        if call.action == "ClearChargingProfile":
            return await self._clear_profile(identity, call)
        if call.action == "RemoteStopTransaction":
            return await self._forward(identity, call, self._to_station_ids(identity, call, None))
        if call.action == "SendLocalList":
            return await self._send_local_list(identity, call)
        return await self._forward(identity, call, call.raw)

    def _change_configuration(
        self, identity: str, group: GroupSettings, payload: dict[str, Any]
    ) -> str | None:
        """Status for keys evsite owns; None for keys that belong to the station."""
        key, value = str(payload["key"]), str(payload["value"])
        if key == "SecurityProfile":
            return self._security_profile(identity, group, value)
        if key == "AuthorizationKey":
            try:
                self._credentials.set_password(identity, check_password(value))
            except CredentialError as exc:
                # The reason says what is wrong with it, never the value itself.
                log.warning("%s: AuthorizationKey from the CSMS refused: %s", identity, exc)
                return "Rejected"
            self._audit.record("uplink.key_changed", actor=identity, detail={"by": "csms"})
            self._dialer.forget(identity)
            self._reconnect_soon(identity)
            return "Accepted"
        return None

    def _security_profile(self, identity: str, group: GroupSettings, value: str) -> str:
        current = self._dialer.profile_of(identity, group)
        wanted = int(value) if value.strip().isdigit() else -1
        if wanted < current:
            self._audit.record(
                "uplink.profile_downgrade_refused",
                actor=identity,
                outcome="refused",
                detail={"current": current, "requested": value[:8]},
            )
            return "Rejected"
        if wanted == current:
            return "Accepted"
        creds = self._credentials.get(identity)
        if wanted != 3 or creds is None or not creds.supports(3):
            return "Rejected"
        self._credentials.raise_profile(identity, wanted)
        self._audit.record(
            "uplink.profile_raised", actor=identity, detail={"from": current, "to": wanted}
        )
        self._dialer.forget(identity)
        self._reconnect_soon(identity)
        return "Accepted"

    def _reconnect_soon(self, identity: str) -> None:
        async def later() -> None:
            # Let the Accepted reach the CSMS before the connection is replaced.
            await asyncio.sleep(0.2)
            await self._reconnect(identity)

        task = asyncio.create_task(later())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _to_station_ids(self, identity: str, call: Call, nested: str | None) -> str:
        holder = call.payload if nested is None else call.payload.get(nested, {})
        csms_tx = transaction_id_of(holder)
        if csms_tx is None:
            return call.raw
        link = self._txmap.by_csms_tx(identity, csms_tx)
        if link is None or link.station_tx == csms_tx:
            return call.raw
        return rewrite_call(call.raw, link.station_tx, nested)

    async def _set_profile(self, identity: str, call: Call) -> str:
        profile = call.payload["csChargingProfiles"]
        csms_tx = transaction_id_of(profile)
        link = self._txmap.by_csms_tx(identity, csms_tx) if csms_tx is not None else None
        await self._profiles.put(
            identity,
            int(call.payload["connectorId"]),
            profile,
            link.local_tx if link else None,
        )
        if self._settings.csms_profiles == ProfilePolicy.COMBINE:
            return encode_result(call.unique_id, {"status": "Accepted"})
        return await self._forward(
            identity, call, self._to_station_ids(identity, call, "csChargingProfiles")
        )

    async def _clear_profile(self, identity: str, call: Call) -> str:
        p = call.payload
        removed = await self._profiles.clear(
            identity,
            profile_id=p.get("id"),
            connector_id=p.get("connectorId"),
            purpose=p.get("chargingProfilePurpose"),
            stack_level=p.get("stackLevel"),
        )
        if self._settings.csms_profiles == ProfilePolicy.COMBINE:
            return encode_result(call.unique_id, {"status": "Accepted" if removed else "Unknown"})
        return await self._forward(identity, call, call.raw)

    async def _send_local_list(self, identity: str, call: Call) -> str:
        reply = await self._station_answer(identity, call, call.raw)
        keep = (
            isinstance(reply, CallResult)
            and reply.payload.get("status") in ("Accepted", "NotSupported")
        ) or (isinstance(reply, CallError) and reply.code in (NOT_IMPLEMENTED, NOT_SUPPORTED))
        if keep:
            try:
                await self._lists.apply(identity, call.payload)
            except LocalListError as exc:
                log.warning("%s: local list copy not updated: %s", identity, exc)
        return reply.raw if not isinstance(reply, str) else reply

    async def _forward(self, identity: str, call: Call, frame: str) -> str:
        reply = await self._station_answer(identity, call, frame)
        return reply if isinstance(reply, str) else reply.raw

    async def _station_answer(
        self, identity: str, call: Call, frame: str
    ) -> CallResult | CallError | str:
        """The station's answer frame, or a CALLERROR text when it cannot answer."""
        session = self._session_of(identity)
        if session is None:
            return encode_error(call.unique_id, GENERIC_ERROR, "the station is not connected")
        try:
            return await session.call_raw(call.unique_id, lambda _uid: frame, STATION_TIMEOUT)
        except TimeoutError:
            return encode_error(call.unique_id, GENERIC_ERROR, "the station did not answer")
        except ConnectionError:
            return encode_error(call.unique_id, GENERIC_ERROR, "the station disconnected")
