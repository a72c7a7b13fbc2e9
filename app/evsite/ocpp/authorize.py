"""Authorization of idTags: the local badge list (the uplink adds CSMS strategies)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from evsite.clock import Clock
from evsite.ocpp.frames import parse_timestamp, valid_timestamp
from evsite.store.badges import BadgeRepository


@dataclass(frozen=True)
class Authorization:
    """The decision for one idTag, and whether it is a VIP."""

    status: str
    expiry_date: str | None = None
    parent_id_tag: str | None = None
    vip: bool = False

    def id_tag_info(self) -> dict[str, Any]:
        """As an OCPP IdTagInfo object."""
        info: dict[str, Any] = {"status": self.status}
        if self.expiry_date:
            info["expiryDate"] = self.expiry_date
        if self.parent_id_tag:
            info["parentIdTag"] = self.parent_id_tag
        return info


class Authorizer(Protocol):
    """Decides whether an idTag may charge at a station."""

    async def authorize(self, station_id: str, id_tag: str) -> Authorization:
        """Return the decision."""
        ...


class LocalAuthorizer:
    """Decides from the local badge list: unknown badges are Invalid."""

    def __init__(self, badges: BadgeRepository, clock: Clock) -> None:
        self._badges = badges
        self._clock = clock

    async def authorize(self, station_id: str, id_tag: str) -> Authorization:
        """Look the badge up; an expired one is Expired."""
        badge = self._badges.get(id_tag)
        if badge is None:
            return Authorization("Invalid")
        status = badge.status
        if status == "Accepted" and is_expired(badge.expiry, self._clock.now()):
            status = "Expired"
        return Authorization(status, badge.expiry, badge.parent_id_tag, badge.vip)


def is_expired(expiry: str | None, now: datetime) -> bool:
    """True if an expiry timestamp lies in the past."""
    return bool(expiry) and valid_timestamp(expiry or "") and parse_timestamp(expiry or "") <= now
