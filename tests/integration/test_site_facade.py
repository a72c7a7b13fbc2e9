"""The real SiteFacade against a started controller, real OCPP stations and a Modbus meter.

Every facade call is made from a worker thread, as the web server makes it.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import random
import tarfile
import threading
import tomllib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ocpp.v16 import ChargePoint
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from evsite.clock import FakeClock, SystemClock, iso_utc
from evsite.config import parse_settings
from evsite.controller import Controller
from evsite.facade.fresh import Fresh
from evsite.facade.impl import SiteFacadeImpl
from evsite.facade.live import SiteHistory
from evsite.facade.toml_write import dumps
from evsite.modbus.maps import get_map
from evsite.ocpp.keys import generate_key
from evsite.platform.sim import SimPlatform
from evsite.runtime import open_controller_db
from evsite.sim.car import Car
from evsite.sim.load_profile import LoadProfile, LoadProfileSettings
from evsite.sim.meter import SimMeterServer, SimulatedMeter
from evsite.sim.site import follow_station_draw
from evsite.sim.station import SimStation, StationBehaviour
from evsite.store.badges import Badge as StoredBadge
from evsite.store.db import Database
from evsite.web.facade import Badge, BadgeGroup, FacadeError, SessionQuery, SitePoint
from tests.integration.ocpp.conftest import Site, basic, client_tls

T = TypeVar("T")
STATIONS = ("S1", "S2")


async def off_loop(fn: Callable[..., T], *args: Any) -> T:
    """Call the facade from a worker thread, as cheroot does."""
    return await asyncio.to_thread(fn, *args)


async def until(predicate: Callable[[], Any], what: str, seconds: float = 20) -> Any:
    for _ in range(int(seconds / 0.05)):
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def until_off_loop(predicate: Callable[[], Any], what: str, seconds: float = 20) -> Any:
    for _ in range(int(seconds / 0.1)):
        value = await asyncio.to_thread(predicate)
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Rig:
    controller: Controller
    facade: SiteFacadeImpl
    platform: SimPlatform
    platform_clock: FakeClock
    meter: SimulatedMeter
    stations: dict[str, SimStation]
    config_path: Path

    @property
    def site(self) -> Site:
        assert self.controller.ports.ocpp_tls
        return Site(self.controller, self.controller.ports.ocpp_tls)


def site_config(meter_port: int) -> dict[str, Any]:
    return {
        "ocpp": {"bind": "127.0.0.1", "port": 0},
        "web": {"port": 0, "redirect_port": 0},
        "energy": {
            "mode": "dynamic",
            "raise_hold_s": 0.2,
            "giveback": False,
            "site": {
                "id": "site",
                "name": "site contract",
                "limit_a": 40,
                "metered": True,
                "fallback_a": 10,
                "feeders": [
                    {
                        "id": "b",
                        "name": "feeder B",
                        "limit_a": 16,
                        "stations": [{"id": s, "max_a": 32} for s in STATIONS],
                    }
                ],
            },
        },
        "meters": [
            {
                "name": "site",
                "family": "sdm630",
                "transport": "tcp",
                "host": "127.0.0.1",
                "port": meter_port,
                "unit_id": 1,
                "role": "site",
            }
        ],
        "control": {
            "meter_interval_s": 0.2,
            "lease_s": 3,
            "renew_s": 1,
            "stale_after_s": 1.5,
            "tick_s": 0.5,
        },
    }


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    clock = SystemClock()
    profile = LoadProfile(LoadProfileSettings(base_w=0, peak_w=0, noise_frac=0))
    meter = SimulatedMeter(get_map("sdm630"), profile, clock)
    meter_server = SimMeterServer([meter])
    meter_port = await meter_server.start_tcp("127.0.0.1", 0)
    db = open_controller_db(tmp_path)
    controller = Controller(parse_settings(site_config(meter_port)), tmp_path, clock, db)
    follow_station_draw(controller, profile)
    keys = {sid: generate_key() for sid in STATIONS}
    for sid, key in keys.items():
        controller.stations.add(sid, key, 2)
        controller.badges.put(StoredBadge(f"CAR-{sid}"))
    ports = await controller.start()
    platform_clock = FakeClock()
    platform = SimPlatform(platform_clock, controller.audit)
    config_path = tmp_path / "evsite.toml"
    facade = SiteFacadeImpl(
        controller, platform, config_path, command_timeout_s=2, history_interval_s=0.05
    )
    await facade.start()
    stop = asyncio.Event()
    stations = {
        sid: SimStation(
            sid,
            keys[sid],
            f"wss://localhost:{ports.ocpp_tls}/ocpp",
            client_tls(tmp_path),
            clock,
            random.Random(n),
            StationBehaviour(arrival_mean=3600, meter_interval=0.2, dwell_min=3600, dwell_max=3600),
            [],
        )
        for n, sid in enumerate(STATIONS)
    }
    tasks = [asyncio.create_task(s.run(stop)) for s in stations.values()]
    for station in stations.values():
        await asyncio.wait_for(station.connected.wait(), 10)
    yield Rig(controller, facade, platform, platform_clock, meter, stations, config_path)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 15)
    await facade.stop()
    await asyncio.wait_for(controller.stop(), 15)
    await asyncio.wait_for(meter_server.stop(), 15)
    db.close()


async def charging(rig: Rig, sid: str = "S1") -> int:
    """Plug a car into a station and wait for its transaction."""
    rig.stations[sid].arrive(Car(f"CAR-{sid}", 60_000, 0.3, 32, 3, target_soc=1.0), remote=True)
    tx: int = await until(lambda: rig.stations[sid].transaction_id, f"{sid} charging")
    return tx


# --- site view -------------------------------------------------------------------------


async def test_snapshot_shows_stations_with_limits_bindings_and_the_site_meter(rig: Rig) -> None:
    await charging(rig)
    rig.meter.set_load_step((5.0, 5.0, 5.0))

    def ready() -> Any:
        snap = rig.facade.site_snapshot()
        s1 = next(s for s in snap.stations if s.station_id == "S1")
        return snap if s1.limit_a == 16 and snap.power_w > 0 else None

    snap = await until_off_loop(ready, "S1 limited by feeder B with the meter read")
    assert [s.station_id for s in snap.stations] == ["S1", "S2"]
    s1, s2 = snap.stations
    assert s1.connected and s2.connected
    assert "feeder B" in s1.binding_constraint
    assert s1.connectors[0].status == "Charging" and s1.connectors[0].transaction_id
    assert s1.session_energy_wh is not None
    assert s1.address == "127.0.0.1" and s1.last_seen is not None
    assert s2.binding_constraint == "no active session"
    assert snap.phase_limit_a == (40.0, 40.0, 40.0)
    assert all(a >= 5.0 for a in snap.phase_current_a)


async def test_history_collects_site_samples_and_thins_long_spans(rig: Rig) -> None:
    start = SystemClock().now() - timedelta(seconds=1)
    points = await until_off_loop(
        lambda: len(rig.facade.site_history(start)) >= 3 and rig.facade.site_history(start),
        "three history samples",
    )
    assert all(a.time <= b.time for a, b in itertools.pairwise(points))
    later = points[-1].time
    assert all(p.time > later for p in await off_loop(rig.facade.site_history, later))
    ring = SiteHistory(interval_s=1, span_s=5)
    base = SystemClock().now()
    for n in range(10):
        ring.add(SitePoint(base + timedelta(seconds=n), float(n), (0.0, 0.0, 0.0)))
    assert [p.power_w for p in ring.since(base - timedelta(hours=1))] == [5, 6, 7, 8, 9]
    assert len(ring.since(base - timedelta(hours=1), max_points=3)) == 3


async def test_calling_from_the_loop_itself_is_refused(rig: Rig) -> None:
    with pytest.raises(RuntimeError, match="other threads"):
        rig.facade.site_limit()


# --- stations ----------------------------------------------------------------------------


async def test_a_station_that_knocks_is_pending_then_approved_and_served(rig: Rig) -> None:
    site = rig.site
    with pytest.raises(InvalidStatus):
        async with site.raw("NEW-1", "x" * 20):
            pass
    pending = await off_loop(rig.facade.pending_stations)
    assert [(p.station_id, p.address, p.source) for p in pending] == [
        ("NEW-1", "127.0.0.1", "connection")
    ]
    key = await off_loop(rig.facade.approve_station, "NEW-1")
    assert key and await off_loop(rig.facade.pending_stations) == []
    with pytest.raises(FacadeError, match="no pending station"):
        await off_loop(rig.facade.approve_station, "NEW-1")
    async with site.station("NEW-1", key):
        await until(lambda: "NEW-1" in rig.controller.server.sessions, "NEW-1 served")

    def addresses() -> list[str]:
        enrolled = rig.facade.enrolled_stations()
        return [a.address for s in enrolled if s.station_id == "NEW-1" for a in s.addresses]

    assert await until_off_loop(addresses, "NEW-1's address recorded") == ["127.0.0.1"]


async def test_add_with_key_checks_the_key_and_refuses_duplicates(rig: Rig) -> None:
    with pytest.raises(FacadeError, match="16 to 40 characters"):
        await off_loop(rig.facade.add_station_with_key, "K1", "short")
    with pytest.raises(FacadeError, match="repeated pattern"):
        await off_loop(rig.facade.add_station_with_key, "K1", "abababababababababab")
    await off_loop(rig.facade.add_station_with_key, "K1", "Station-Key-0123456789")
    assert rig.controller.stations.check_key("K1", "Station-Key-0123456789")
    with pytest.raises(FacadeError, match="already enrolled"):
        await off_loop(rig.facade.add_station, "K1")
    with pytest.raises(FacadeError, match="not a valid station identity"):
        await off_loop(rig.facade.add_station, "a/b")
    key = await off_loop(rig.facade.add_station, "K2")
    assert len(key) == 40 and rig.controller.stations.check_key("K2", key)


async def test_reject_drops_a_pending_station(rig: Rig) -> None:
    rig.controller.stations.note_pending("KNOCK", "192.0.2.7", "mdns")
    await off_loop(rig.facade.reject_station, "KNOCK")
    assert await off_loop(rig.facade.pending_stations) == []
    with pytest.raises(FacadeError, match="no pending station"):
        await off_loop(rig.facade.reject_station, "KNOCK")


async def test_removing_a_connected_station_closes_its_connection_at_once(rig: Rig) -> None:
    key = await off_loop(rig.facade.add_station, "GONE")
    async with rig.site.raw("GONE", key) as ws:
        cp = ChargePoint("GONE", ws)
        task = asyncio.create_task(cp.start())
        await until(lambda: "GONE" in rig.controller.server.sessions, "GONE served")
        await off_loop(rig.facade.remove_station, "GONE")
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 5)
        assert ws.close_code == 1008
    assert "GONE" not in rig.controller.server.sessions
    assert "GONE" not in {s.station_id for s in await off_loop(rig.facade.enrolled_stations)}
    with pytest.raises(FacadeError, match="no station GONE"):
        await off_loop(rig.facade.remove_station, "GONE")


class ReadCounter:
    """Calls a facade method and counts the store reads it made from its own thread.

    The controller's own reads on the loop do not count: only the caller's thread's.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reads = 0
        self._mine = threading.local()
        monkeypatch.setattr(Database, "query", self._counting(Database.query))
        monkeypatch.setattr(Database, "query_one", self._counting(Database.query_one))

    def _counting(self, real: Callable[..., Any]) -> Callable[..., Any]:
        def read(db: Database, sql: str, params: tuple[object, ...] = ()) -> Any:
            if getattr(self._mine, "on", False):
                self.reads += 1
            return real(db, sql, params)

        return read

    def __call__(self, fn: Callable[[], T]) -> T:
        self.reads, self._mine.on = 0, True
        try:
            return fn()
        finally:
            self._mine.on = False


async def test_listing_many_stations_reads_the_store_a_fixed_number_of_times(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    with rig.controller.db.transaction() as conn:
        for n in range(50):
            sid = f"BULK{n:02d}"
            conn.execute(
                "INSERT INTO stations(id, security_profile, created_at) VALUES (?, 2, ?)",
                (sid, f"2026-01-{n % 28 + 1:02d}T08:00:00.000Z"),
            )
            for k in range(n % 3):  # none, one or two addresses; the one written last is newest
                conn.execute(
                    "INSERT INTO station_addresses(station_id, address, first_seen, last_seen)"
                    " VALUES (?, ?, ?, ?)",
                    (
                        sid,
                        f"192.0.2.{k + 1}",
                        "2026-02-01T00:00:00.000Z",
                        f"2026-02-0{k + 2}T00:00:00.000Z",
                    ),
                )
    counter = ReadCounter(monkeypatch)
    enrolled = await off_loop(counter, rig.facade.enrolled_stations)
    listing_reads = counter.reads
    snapshot = await off_loop(counter, rig.facade.site_snapshot)
    # One statement each, however many stations there are (it was one more per station).
    assert (listing_reads, counter.reads) == (1, 1)
    store = rig.controller.stations
    assert [s.station_id for s in enrolled] == [r.id for r in store.all()]
    for station in enrolled:
        assert [
            (a.address, iso_utc(a.first_seen), iso_utc(a.last_seen)) for a in station.addresses
        ] == [(a.address, a.first_seen, a.last_seen) for a in store.addresses(station.station_id)]
    by_id = {s.station_id: s for s in snapshot.stations}
    assert [by_id[f"BULK0{n}"].address for n in range(3)] == ["", "192.0.2.1", "192.0.2.2"]
    assert not by_id["BULK02"].connected and by_id["S1"].connected


async def test_web_requests_share_one_snapshot_until_a_station_changes(
    rig: Rig, tmp_path: Path
) -> None:
    facade = SiteFacadeImpl(
        rig.controller, rig.platform, tmp_path / "x.toml", snapshot_max_age_s=3600
    )
    await facade.start()
    first = await off_loop(facade.site_snapshot)
    assert await off_loop(facade.site_snapshot) is first
    assert await off_loop(facade.add_station, "FRESH")
    added = await off_loop(facade.site_snapshot)
    assert "FRESH" in {s.station_id for s in added.stations}
    await off_loop(facade.remove_station, "FRESH")
    assert "FRESH" not in {s.station_id for s in (await off_loop(facade.site_snapshot)).stations}
    await facade.stop()
    with pytest.raises(FacadeError, match="not running"):
        await off_loop(facade.site_snapshot)


def test_a_fresh_value_is_shared_until_it_ages_and_a_clear_drops_a_build_under_way() -> None:
    clock = FakeClock()
    fresh: Fresh[int] = Fresh(clock, max_age_s=1.0)
    builds = itertools.count(1)
    assert fresh.get(lambda: next(builds)) == 1
    clock.advance(1.0)
    assert fresh.get(lambda: next(builds)) == 1
    clock.advance(0.1)
    assert fresh.get(lambda: next(builds)) == 2

    def cleared_meanwhile() -> int:
        fresh.clear()  # a station was removed while this value was being built
        return next(builds)

    clock.advance(2.0)
    assert fresh.get(cleared_meanwhile) == 3
    assert fresh.get(lambda: next(builds)) == 4

    def failing() -> int:
        raise FacadeError("the controller is not running")

    fresh.clear()
    with pytest.raises(FacadeError):
        fresh.get(failing)
    assert fresh.get(lambda: next(builds)) == 5


# --- remote commands -------------------------------------------------------------------


async def test_remote_stop_ends_the_session_and_answers_map_to_results(rig: Rig) -> None:
    tx = await charging(rig)
    wrong = await off_loop(rig.facade.remote_stop, "S1", tx + 1000)
    assert wrong.status == "Rejected" and not wrong.ok
    stopped = await off_loop(rig.facade.remote_stop, "S1", tx)
    assert stopped.ok and stopped.status == "Accepted"
    await until(lambda: rig.stations["S1"].transaction_id is None, "S1 stopped")
    assert (await off_loop(rig.facade.unlock_connector, "S1", 1)).status == "Unlocked"
    assert (await off_loop(rig.facade.change_availability, "S2", 0, False)).ok
    assert (await off_loop(rig.facade.reset, "S2", "Soft")).ok
    absent = await off_loop(rig.facade.remote_start, "NOPE", 1, "CAR-S1")
    assert absent.status == "" and absent.error == "station not connected"


async def test_a_silent_station_times_out_and_a_callerror_is_reported(rig: Rig) -> None:
    key = await off_loop(rig.facade.add_station, "MUTE")
    async with rig.site.raw("MUTE", key):
        await until(lambda: "MUTE" in rig.controller.server.sessions, "MUTE served")
        silent = await off_loop(rig.facade.reset, "MUTE", "Hard")
    assert silent.error.startswith("timeout") and not silent.ok
    async with rig.site.raw("MUTE", key) as ws:
        cp = ChargePoint("MUTE", ws)  # answers every request with NotImplemented
        task = asyncio.create_task(cp.start())
        await until(lambda: "MUTE" in rig.controller.server.sessions, "MUTE back")
        refused = await off_loop(rig.facade.unlock_connector, "MUTE", 1)
        task.cancel()
    assert refused.status == "" and "NotImplemented" in refused.error


# --- sessions --------------------------------------------------------------------------


async def test_sessions_are_filtered_paged_and_running_ones_show_energy(rig: Rig) -> None:
    tx1 = await charging(rig, "S1")
    tx2 = await charging(rig, "S2")
    await until(
        lambda: all(
            c.energy_wh is not None
            for v in rig.controller.live.stations()
            for c in v.connectors.values()
            if c.transaction_id
        ),
        "meter values",
    )
    page = await off_loop(rig.facade.query_sessions, SessionQuery())
    assert page.total == 2 and [s.session_id for s in page.items] == [tx2, tx1]
    assert page.items[0].stopped is None and page.items[0].energy_wh >= 0
    only = await off_loop(rig.facade.query_sessions, SessionQuery(station_id="S1"))
    assert only.total == 1 and only.items[0].badge == "CAR-S1"
    paged = await off_loop(rig.facade.query_sessions, SessionQuery(limit=1, offset=1))
    assert paged.total == 2 and [s.session_id for s in paged.items] == [tx1]
    future = SystemClock().now() + timedelta(hours=1)
    assert (await off_loop(rig.facade.query_sessions, SessionQuery(since=future))).total == 0
    await off_loop(rig.facade.remote_stop, "S1", tx1)
    done = await until_off_loop(
        lambda: rig.facade.query_sessions(SessionQuery(station_id="S1")).items[0].stopped,
        "S1's session stopped",
    )
    assert done is not None


# --- badges ----------------------------------------------------------------------------


async def test_badges_groups_and_an_all_or_nothing_import(rig: Rig) -> None:
    f = rig.facade
    with pytest.raises(FacadeError, match="unknown badge group"):
        await off_loop(f.put_badge, Badge("B1", "Ann", "staff"))
    await off_loop(f.put_badge_group, BadgeGroup("staff", "local_first"))
    await off_loop(f.put_badge, Badge("B1", "Ann", "staff", vip=True))
    await off_loop(f.put_badge, Badge("B2", "Bob", blocked=True))
    assert await off_loop(f.badge_groups) == [BadgeGroup("staff", "local_first")]
    badges = {b.id_tag: b for b in await off_loop(f.badges)}
    assert badges["B1"] == Badge("B1", "Ann", "staff", vip=True)
    assert badges["B2"].blocked and rig.controller.badges.get("B2").status == "Blocked"  # type: ignore[union-attr]
    with pytest.raises(FacadeError, match="unknown badge group"):
        await off_loop(f.import_badges, [Badge("B3"), Badge("B4", group="nope")])
    with pytest.raises(FacadeError, match="1 to 20"):
        await off_loop(f.import_badges, [Badge("B3"), Badge("X" * 21)])
    assert "B3" not in {b.id_tag for b in await off_loop(f.badges)}
    assert await off_loop(f.import_badges, [Badge("B3"), Badge("b1", "Ann again")]) == 2
    badges = {b.id_tag: b for b in await off_loop(f.badges)}
    assert "B3" in badges and badges["b1"].name == "Ann again"
    await off_loop(f.delete_badge, "B3")
    with pytest.raises(FacadeError, match="no badge B3"):
        await off_loop(f.delete_badge, "B3")
    with pytest.raises(FacadeError, match="strategy"):
        await off_loop(f.put_badge_group, BadgeGroup("x", "sometimes"))  # type: ignore[arg-type]


# --- settings --------------------------------------------------------------------------


async def test_settings_show_every_section_without_cli_or_secret_values(rig: Rig) -> None:
    current = await off_loop(rig.facade.settings)
    assert list(current) == ["network", "ocpp", "load_management", "meters", "ems", "csms"]
    assert current["ocpp"]["heartbeat_interval"] == 300
    assert current["load_management"]["feeder.b.limit_a"] == "16"
    assert current["load_management"]["site.limit_a"] == "40"
    assert current["meters"]["meter.site.port"] > 0
    assert current["ems"]["modbus_enabled"] is False
    assert current["csms"]["mode"] == "standalone"
    for section in current.values():
        assert all(isinstance(v, str | int | float | bool) for v in section.values())


async def test_invalid_settings_are_named_by_field_by_the_real_parsers(rig: Rig) -> None:
    f = rig.facade
    assert await off_loop(f.validate_settings, "ocpp", {"port": "70000"}) == {
        "port": "must be an integer from 0 to 65535"
    }
    assert await off_loop(f.validate_settings, "ocpp", {"port": "eighty"}) == {
        "port": "must be a whole number"
    }
    errors = await off_loop(f.validate_settings, "network", {"http_redirect_port": "0"})
    assert errors == {}
    clash = await off_loop(
        f.validate_settings, "network", {"ui_port": "8443", "http_redirect_port": "8443"}
    )
    assert clash == {"http_redirect_port": "must differ from web.port"}
    assert "feeder.b.limit_a" in await off_loop(
        f.validate_settings, "load_management", {"feeder.b.limit_a": "1, 2"}
    )
    proxy = await off_loop(f.validate_settings, "csms", {"mode": "proxy"})
    assert list(proxy) == ["url"]
    assert await off_loop(f.validate_settings, "nope", {}) == {"": "no settings section nope"}
    with pytest.raises(FacadeError):
        await off_loop(f.apply_settings, "ocpp", {"port": "70000"})
    assert not rig.config_path.exists()


async def test_applied_settings_are_written_as_toml_that_parses_and_audited(rig: Rig) -> None:
    rig.config_path.write_text('[device]\nhostname = "lot-7"\n')
    f = rig.facade
    await off_loop(
        f.apply_settings, "load_management", {"feeder.b.limit_a": "20, 20, 16", "giveback": "true"}
    )
    await off_loop(f.apply_settings, "ocpp", {"heartbeat_interval": "120"})
    await off_loop(f.apply_settings, "ems", {"fallback_a": ""})
    written = tomllib.loads(rig.config_path.read_text())
    assert written["device"] == {"hostname": "lot-7"}
    assert written["ocpp"] == {"heartbeat_interval": 120}  # no port or bind from the command line
    assert written["energy"]["site"]["feeders"][0]["limit_a"] == [20, 20, 16]
    assert written["energy"]["site"]["limit_a"] == 40  # the rest of the tree came along
    parse_settings(written)
    assert (await off_loop(f.settings))["load_management"]["feeder.b.limit_a"] == "20, 20, 16"
    saved = [r for r in await off_loop(f.audit_records, "config.saved") if r.detail]
    assert saved[0].detail["section"] == "ems" and saved[0].detail["applies"] == "after a restart"


@given(
    st.recursive(
        st.one_of(
            st.booleans(),
            st.integers(-(2**63), 2**63 - 1),
            st.floats(allow_nan=False),
            st.text(),
        ),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=3),
        ),
        max_leaves=12,
    ).filter(lambda v: isinstance(v, dict))
)
@settings(max_examples=150, deadline=None)
def test_the_toml_writer_round_trips_through_tomllib(document: dict[str, Any]) -> None:
    assert tomllib.loads(dumps(document)) == document


# --- audit -----------------------------------------------------------------------------


async def test_audit_records_export_and_verify(rig: Rig) -> None:
    f = rig.facade
    await off_loop(
        lambda: f.record("web.login", actor="admin", source="192.0.2.1", detail={"x": 1})
    )
    newest = (await off_loop(f.audit_records, "web.", 5))[0]
    assert (newest.event, newest.actor, newest.source) == ("web.login", "admin", "192.0.2.1")
    lines = list(await off_loop(lambda: list(f.audit_export())))
    assert json.loads(lines[-1])["event"] == "web.login"
    assert json.loads(lines[0])["seq"] == 1
    assert await off_loop(f.audit_verify) == []


# --- platform --------------------------------------------------------------------------


async def test_platform_actions_are_recorded_audited_and_ssh_switches_itself_off(
    rig: Rig,
) -> None:
    f = rig.facade
    on = await off_loop(f.set_ssh, True, 30)
    assert on.enabled and on.auto_off_at == rig.platform_clock.now() + timedelta(minutes=30)
    rig.platform_clock.advance(31 * 60)
    assert not (await off_loop(f.ssh_state)).enabled
    await off_loop(f.reboot)
    await off_loop(f.factory_reset)
    assert not await off_loop(f.setup_window_open)
    rig.platform.press_button()
    assert await off_loop(f.setup_window_open)
    actions = [a for _, a, _ in rig.platform.actions]
    assert actions == ["ssh", "ssh_auto_off", "reboot", "factory_reset", "setup_window_opened"]
    events = [r.event for r in await off_loop(f.audit_records, "platform.", 10)]
    assert events[::-1] == [f"platform.{a}" for a in actions]


async def test_diagnostics_bundle_holds_config_status_and_audit_without_secrets(
    rig: Rig,
) -> None:
    rig.facade._config._raw["uplink"] = {"mode": "standalone", "api_token": "hunter2-secret"}
    data = await off_loop(rig.facade.diagnostics_bundle)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        names = sorted(m.name.split("/", 1)[1] for m in tar.getmembers())
        files = {
            m.name.split("/", 1)[1]: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
        }
    assert names == [
        "audit.jsonl",
        "config.toml",
        "platform-actions.json",
        "status.json",
        "version.txt",
    ]
    config = tomllib.loads(files["config.toml"].decode())
    assert config["uplink"]["api_token"] == "(removed)"
    assert b"hunter2" not in data and b"hunter2" not in b"".join(files.values())
    assert {s["id"] for s in json.loads(files["status.json"])["stations"]} == set(STATIONS)
    assert files["audit.jsonl"].decode().splitlines()


# --- EMS -------------------------------------------------------------------------------


async def test_an_ems_limit_lowers_the_stations_and_falls_back_when_it_expires(
    rig: Rig,
) -> None:
    await charging(rig)
    f = rig.facade
    configured = await off_loop(f.site_limit)
    assert (configured.amps, configured.source) == (40.0, "configured")
    limit = await off_loop(f.set_site_limit, 8.0, 2)
    assert (limit.amps, limit.source) == (8.0, "ems") and limit.expires_at is not None
    await until_off_loop(
        lambda: next(s for s in f.site_snapshot().stations if s.station_id == "S1").limit_a == 8,
        "S1 down to the EMS limit",
    )
    snap = await off_loop(f.site_snapshot)
    assert snap.phase_limit_a == (8.0, 8.0, 8.0)
    back = await until_off_loop(
        lambda: (lim := f.site_limit()).source == "configured" and lim, "the EMS limit expired"
    )
    assert back.amps == 40.0
    with pytest.raises(FacadeError):
        await off_loop(f.set_site_limit, float("nan"), 10)
    events = [r.actor for r in await off_loop(f.audit_records, "energy.site_limit", 5)]
    assert events[:2] == ["ems:expired", "ems"]


async def test_a_bms_limit_stays_in_force_when_a_looser_ems_limit_expires(rig: Rig) -> None:
    f = rig.facade
    control = rig.controller.load.loop
    assert control is not None
    control.set_site_limit(20.0, "bms")  # the BMS server's setpoint, as it arrives on the loop
    limit = await off_loop(f.set_site_limit, 30.0, 1)
    assert (limit.amps, limit.source) == (20.0, "bms")  # the tighter one binds
    limit = await off_loop(f.set_site_limit, 10.0, 1)
    assert (limit.amps, limit.source) == (10.0, "ems")
    back = await until_off_loop(
        lambda: (lim := f.site_limit()).source != "ems" and lim, "the EMS limit expired"
    )
    assert (back.amps, back.source) == (20.0, "bms")
    assert control.external_limit() == 20.0


async def test_a_stopped_facade_refuses_calls(rig: Rig, tmp_path: Path) -> None:
    other = SiteFacadeImpl(rig.controller, rig.platform, tmp_path / "x.toml")
    with pytest.raises(FacadeError, match="not running"):
        await off_loop(other.site_snapshot)
    await other.start()
    assert (await off_loop(other.site_snapshot)).stations
    await other.stop()
    with pytest.raises(FacadeError, match="not running"):
        await off_loop(other.site_limit)


async def test_unknown_stations_over_plain_connect_land_as_pending_once(rig: Rig) -> None:
    url = f"wss://localhost:{rig.controller.ports.ocpp_tls}/ocpp/KNOCKER"
    for _ in range(2):
        with pytest.raises(InvalidStatus):
            async with connect(
                url,
                ssl=client_tls(rig.controller.data_dir),
                subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                additional_headers=basic("KNOCKER", "k" * 20),
            ):
                pass
    (pending,) = await off_loop(rig.facade.pending_stations)
    assert pending.station_id == "KNOCKER" and pending.attempts == 2
