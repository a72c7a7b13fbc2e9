"""Online and offline strategies, the CSMS's local list and the authorization cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evsite.clock import FakeClock, iso_utc
from evsite.store.badges import Badge, BadgeRepository
from evsite.store.commit import DirectWriter
from evsite.store.db import Database
from evsite.uplink.authcache import AuthCache, CsmsLocalLists, LocalListError
from evsite.uplink.authorize import UplinkAuthorizer
from evsite.uplink.settings import parse_uplink_settings


class Reachability:
    def __init__(self) -> None:
        self.up = True

    def __call__(self, station_id: str) -> bool:
        return self.up


def build(
    db: Database, clock: FakeClock, tmp_path: Path, **group: Any
) -> tuple[UplinkAuthorizer, Reachability, CsmsLocalLists, AuthCache, BadgeRepository]:
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    settings = parse_uplink_settings(
        {
            "uplink": {
                "mode": "groups",
                "ca_bank": str(ca),
                "default_group": "csms",
                "groups": {
                    "csms": {"url": "wss://csms.example/ocpp", **group},
                    "local": {"stations": ["LOCAL-1"]},
                },
                "auth_cache_ttl": 3600,
            }
        }
    )
    writer = DirectWriter(db)
    lists, cache = CsmsLocalLists(db, writer), AuthCache(db, writer, clock, 3600)
    badges = BadgeRepository(db)
    reach = Reachability()
    return (
        UplinkAuthorizer(settings, badges, lists, cache, reach, clock),
        reach,
        lists,
        cache,
        badges,
    )


async def test_offline_known_accepts_badges_and_cached_tags_only(
    db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    auth, reach, _, cache, badges = build(db, clock, tmp_path, offline="known")
    badges.put(Badge("OWN", vip=True))
    await cache.put("SEEN", {"status": "Accepted"})
    reach.up = False
    assert (await auth.authorize("CP-1", "OWN")).vip
    assert (await auth.authorize("CP-1", "seen")).status == "Accepted"  # CiString
    assert (await auth.authorize("CP-1", "STRANGER")).status == "Invalid"


async def test_offline_accept_all_still_honours_an_explicit_block(
    db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    auth, reach, _, _, badges = build(db, clock, tmp_path, offline="accept_all")
    badges.put(Badge("BAD", status="Blocked"))
    reach.up = False
    assert (await auth.authorize("CP-1", "STRANGER")).status == "Accepted"
    assert (await auth.authorize("CP-1", "BAD")).status == "Blocked"


async def test_offline_reject_all_rejects_even_known_badges(
    db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    auth, reach, _, _, badges = build(db, clock, tmp_path, offline="reject_all")
    badges.put(Badge("OWN"))
    reach.up = False
    assert (await auth.authorize("CP-1", "OWN")).status == "Invalid"


async def test_cache_entries_expire_after_their_time_to_live(
    db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    auth, reach, _, cache, _ = build(db, clock, tmp_path)
    await cache.put("TAG", {"status": "Accepted"})
    reach.up = False
    assert (await auth.authorize("CP-1", "TAG")).status == "Accepted"
    clock.advance(3601)
    assert (await auth.authorize("CP-1", "TAG")).status == "Invalid"


async def test_a_lapsed_expiry_date_turns_accepted_into_expired(
    db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    auth, _, _, cache, _ = build(db, clock, tmp_path)
    await cache.put("TAG", {"status": "Accepted", "expiryDate": iso_utc(clock.now())})
    clock.advance(1)
    assert (await auth.authorize("CP-1", "TAG")).status == "Expired"


async def test_local_list_full_and_differential_updates_keep_the_version(
    db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    auth, reach, lists, _, _ = build(db, clock, tmp_path)
    await lists.apply(
        "CP-1",
        {
            "listVersion": 3,
            "updateType": "Full",
            "localAuthorizationList": [
                {"idTag": "A", "idTagInfo": {"status": "Accepted"}},
                {"idTag": "B", "idTagInfo": {"status": "Accepted"}},
            ],
        },
    )
    await lists.apply(
        "CP-1",
        {
            "listVersion": 4,
            "updateType": "Differential",
            "localAuthorizationList": [
                {"idTag": "B"},  # no idTagInfo: removed
                {"idTag": "C", "idTagInfo": {"status": "Blocked"}},
            ],
        },
    )
    assert lists.version("CP-1") == 4 and lists.size("CP-1") == 2
    with pytest.raises(LocalListError):
        await lists.apply("CP-1", {"listVersion": 4, "updateType": "Differential"})
    reach.up = False
    assert (await auth.authorize("CP-1", "A")).status == "Accepted"
    assert (await auth.authorize("CP-1", "B")).status == "Invalid"
    assert (await auth.authorize("CP-1", "C")).status == "Blocked"
    assert (await auth.authorize("CP-2", "A")).status == "Invalid"  # lists are per station
    await lists.apply("CP-1", {"listVersion": 9, "updateType": "Full"})
    assert lists.size("CP-1") == 0 and lists.version("CP-1") == 9


async def test_online_csms_strategy_prefers_the_csms_fresh_word_over_the_badge_list(
    db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    auth, _, _, cache, badges = build(db, clock, tmp_path, online="csms")
    badges.put(Badge("TAG"))
    await cache.put("TAG", {"status": "Blocked"})
    assert (await auth.authorize("CP-1", "TAG")).status == "Blocked"
    assert auth.accepted_locally("CP-1", "TAG")  # what local_first would look at


async def test_stations_of_a_local_group_use_the_badge_list_only(
    db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    auth, reach, _, cache, badges = build(db, clock, tmp_path)
    await cache.put("CSMS-ONLY", {"status": "Accepted"})
    badges.put(Badge("OWN"))
    reach.up = False
    assert (await auth.authorize("LOCAL-1", "OWN")).status == "Accepted"
    assert (await auth.authorize("LOCAL-1", "CSMS-ONLY")).status == "Invalid"
