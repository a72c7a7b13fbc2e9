"""Authorization with a CSMS: per-group online and offline strategies over local knowledge.

This is the `Authorizer` the central system's handlers use. It never calls the
CSMS itself: in proxy mode the relay forwards the station's own Authorize and
caches the CSMS's answer, so asking here again would show the CSMS a request
no station sent. What it decides from, in order:

- evsite's badge list (the site owner's badges, with VIP flags);
- the station's Local Authorization List as the CSMS sent it (SendLocalList);
- the authorization cache (the CSMS's recent answers, with a time-to-live).

With the strategy "csms" the cache comes first, as it holds the CSMS's fresh word.
"""

from __future__ import annotations

from collections.abc import Callable

from evsite.clock import Clock
from evsite.ocpp.authorize import Authorization, LocalAuthorizer
from evsite.store.badges import BadgeRepository
from evsite.uplink.authcache import AuthCache, CsmsLocalLists, usable
from evsite.uplink.settings import OfflineStrategy, OnlineStrategy, UplinkSettings

INVALID = Authorization("Invalid")


class UplinkAuthorizer:
    """Decides idTags for every station: local groups from badges, CSMS groups by strategy."""

    def __init__(
        self,
        settings: UplinkSettings,
        badges: BadgeRepository,
        local_lists: CsmsLocalLists,
        cache: AuthCache,
        available: Callable[[str], bool],
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._badges = badges
        self._local = LocalAuthorizer(badges, clock)
        self._lists = local_lists
        self._cache = cache
        self._available = available
        self._clock = clock

    def known(self, station_id: str, id_tag: str, *, cache_first: bool) -> Authorization | None:
        """What local knowledge says about an idTag, expiry applied; None when unknown."""
        sources: list[Callable[[], Authorization | None]] = [
            lambda: self._badge(id_tag),
            lambda: self._lists.get(station_id, id_tag),
            lambda: self._cache.get(id_tag),
        ]
        if cache_first:
            sources.insert(0, sources.pop())
        for source in sources:
            decision = usable(source(), self._clock)
            if decision is not None:
                return decision
        return None

    def _badge(self, id_tag: str) -> Authorization | None:
        badge = self._badges.get(id_tag)
        if badge is None:
            return None
        return Authorization(badge.status, badge.expiry, badge.parent_id_tag, badge.vip)

    def accepted_locally(self, station_id: str, id_tag: str) -> bool:
        """For local_first: the badge list or the station's CSMS list accepts this idTag."""
        decision = self.known(station_id, id_tag, cache_first=False)
        return decision is not None and decision.status == "Accepted"

    async def authorize(self, station_id: str, id_tag: str) -> Authorization:
        """The decision evsite gives when it answers itself (never asks the CSMS)."""
        group = self._settings.upstream_of(station_id)
        if group is None:
            return await self._local.authorize(station_id, id_tag)
        known = self.known(station_id, id_tag, cache_first=group.online == OnlineStrategy.CSMS)
        if self._available(station_id):
            return known or INVALID
        if group.offline == OfflineStrategy.REJECT_ALL:
            return INVALID
        if group.offline == OfflineStrategy.ACCEPT_ALL:
            # Accept all: unknown and lapsed badges charge, but an explicit block still holds.
            if known is not None and known.status == "Blocked":
                return known
            vip = known.vip if known else False
            parent = known.parent_id_tag if known else None
            return Authorization("Accepted", None, parent, vip)
        return known if known is not None and known.status == "Accepted" else (known or INVALID)
