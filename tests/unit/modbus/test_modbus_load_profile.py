"""The simulated building load: deterministic, plus steps and station draw."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from evsite.sim.load_profile import LoadProfile, LoadProfileSettings, daily_shape
from evsite.sim.meter import MeterFaults

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_same_seed_same_moment_same_load() -> None:
    a = LoadProfile(LoadProfileSettings(seed=7)).at(NOON)
    b = LoadProfile(LoadProfileSettings(seed=7)).at(NOON)
    c = LoadProfile(LoadProfileSettings(seed=8)).at(NOON)
    assert a == b
    assert a != c


def test_day_is_busier_than_night() -> None:
    assert daily_shape(15) > 0.9 and daily_shape(3) < 0.01
    profile = LoadProfile()
    night = profile.at(datetime(2026, 3, 2, 3, 0, tzinfo=UTC))
    assert profile.at(NOON).total_w > 2 * night.total_w


def test_step_and_station_draw_add_to_the_phases() -> None:
    profile = LoadProfile()
    before = profile.at(NOON).currents_a
    profile.set_step((10.0, 0.0, 0.0))
    profile.set_station_draw("cp1", (16.0, 16.0, 16.0))
    profile.set_station_draw("cp2", (0.0, 32.0, 0.0))
    after = profile.at(NOON).currents_a
    assert after[0] - before[0] == pytest.approx(26.0)
    assert after[1] - before[1] == pytest.approx(48.0)
    assert after[2] - before[2] == pytest.approx(16.0)
    profile.clear_station_draw("cp2")
    assert profile.stations_a() == (16.0, 16.0, 16.0)


def test_bad_station_draw_is_refused() -> None:
    with pytest.raises(ValueError, match="cp1"):
        LoadProfile().set_station_draw("cp1", (-1.0, 0.0, 0.0))


def test_faults_as_data_validate() -> None:
    assert MeterFaults.from_mapping({"exception": 2, "crc_errors": 0.2}).exception == 2
    for bad, key in (
        ({"exception": 99}, "faults.exception"),
        ({"silent": "yes"}, "faults.silent"),
        ({"crc_errors": 2}, "faults.crc_errors"),
        ({"smoke": True}, "faults.smoke"),
    ):
        with pytest.raises(ValueError, match=key):
            MeterFaults.from_mapping(bad)
