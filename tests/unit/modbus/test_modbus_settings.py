"""Meter and BMS settings: valid shapes build, invalid ones name their key."""

from __future__ import annotations

import pytest

from evsite.clock import FakeClock
from evsite.config_errors import ConfigError
from evsite.modbus.bus import rtu_gap_s
from evsite.modbus.settings import build_meters, parse_bms, parse_meters

RTU = {"name": "site", "family": "sdm630", "transport": "rtu", "port": "/dev/ttyAMA0", "unit_id": 1}


async def test_two_meters_on_one_port_share_one_bus() -> None:
    feeder = {**RTU, "name": "feeder-b", "family": "em24", "unit_id": 2, "role": "feeder:B"}
    tcp = {"name": "pv", "family": "abb_b23", "transport": "tcp", "host": "192.0.2.7",
           "role": "feeder:pv"}  # fmt: skip
    configs = parse_meters([RTU, feeder, tcp])
    buses, meters = build_meters(configs, FakeClock())
    assert len(buses) == 2
    assert meters[0].bus is meters[1].bus
    assert meters[2].bus.name == "192.0.2.7:502"
    assert configs[1].role == "feeder:B"


@pytest.mark.parametrize(
    ("entry", "key"),
    [
        ({**RTU, "family": "sdm120"}, "meters[0].family"),
        ({**RTU, "transport": "udp"}, "meters[0].transport"),
        ({**RTU, "unit_id": 0}, "meters[0].unit_id"),
        ({**RTU, "unit_id": True}, "meters[0].unit_id"),
        ({**RTU, "baud": 9601}, "meters[0].baud"),
        ({**RTU, "port": ""}, "meters[0].port"),
        ({**RTU, "role": "feeder:"}, "meters[0].role"),
        ({**RTU, "timeout_s": 0}, "meters[0].timeout_s"),
        ({**RTU, "colour": "red"}, "meters[0].colour"),
        ({"name": "x", "family": "em24", "transport": "tcp"}, "meters[0].host"),
    ],
)
def test_bad_meter_setting_names_its_key(entry: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_meters([entry])
    assert info.value.key == key


def test_same_unit_twice_on_a_bus_is_refused() -> None:
    with pytest.raises(ConfigError, match="already 'site'") as info:
        parse_meters([RTU, {**RTU, "name": "other", "role": "feeder:A"}])
    assert info.value.key == "meters[1].unit_id"


def test_mismatched_baud_on_one_port_is_refused() -> None:
    other = {**RTU, "name": "b", "unit_id": 2, "baud": 19200, "role": "feeder:A"}
    with pytest.raises(ConfigError) as info:
        parse_meters([RTU, other])
    assert info.value.key == "meters[1].baud"


def test_bms_is_off_unless_enabled() -> None:
    assert parse_bms(None) is None
    assert parse_bms({"enabled": False, "allowed": ["10.0.0.0/8"]}) is None


def test_bms_settings_validate() -> None:
    s = parse_bms({"enabled": True, "allowed": ["10.0.0.0/8", "192.0.2.5"], "watchdog_s": 30})
    assert s is not None and s.watchdog_s == 30.0 and s.port == 502
    assert s.allows("10.1.2.3") and s.allows("::ffff:192.0.2.5") and not s.allows("192.0.2.6")
    with pytest.raises(ConfigError) as info:
        parse_bms({"enabled": True, "allowed": ["10.0.0.300/8"]})
    assert info.value.key == "bms.allowed"
    with pytest.raises(ConfigError) as info:
        parse_bms({"enabled": True, "allowed": []})
    assert info.value.key == "bms.allowed"
    with pytest.raises(ConfigError) as info:
        parse_bms({"enabled": True, "allowed": ["::1"], "fallback_a": 9000})
    assert info.value.key == "bms.max_setpoint_a" or info.value.key == "bms.fallback_a"


def test_rtu_gap_is_three_and_a_half_characters() -> None:
    assert rtu_gap_s(9600) == pytest.approx(3.5 * 11 / 9600)
    assert rtu_gap_s(115200) == pytest.approx(0.00175)
