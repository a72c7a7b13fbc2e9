"""The [discovery] table: defaults, and every bad value named by its key."""

from __future__ import annotations

from typing import Any

import pytest

from evsite.config_errors import ConfigError
from evsite.discovery.settings import (
    DEFAULT_MDNS_TYPES,
    DiscoverySettings,
    parse_discovery_settings,
)


def test_defaults_switch_everything_on_for_every_interface() -> None:
    settings = parse_discovery_settings({})
    assert settings == DiscoverySettings()
    assert settings.enabled and settings.announce.enabled
    assert settings.mdns.enabled and settings.ssdp.enabled
    assert settings.interfaces == ()
    assert settings.mdns.types == DEFAULT_MDNS_TYPES
    assert settings.mdns.filtered_types == ("_http._tcp.local.",)
    assert settings.ssdp.target == ("239.255.255.250", 1900)
    assert (settings.ssdp.search_target, settings.ssdp.mx) == ("ssdp:all", 2)
    assert settings.ssdp.source_port == 1900


def test_each_part_can_be_switched_off() -> None:
    settings = parse_discovery_settings(
        {
            "announce": {"enabled": False},
            "mdns": {"enabled": False},
            "ssdp": {"enabled": False},
        }
    )
    assert not (settings.announce.enabled or settings.mdns.enabled or settings.ssdp.enabled)
    assert not parse_discovery_settings({"enabled": False}).enabled


def test_custom_values_are_kept() -> None:
    settings = parse_discovery_settings(
        {
            "interfaces": ["192.168.1.5", "169.254.10.1"],
            "mdns": {"types": ["_ocpp._tcp.local."], "filtered_types": [], "patterns": ["x*"]},
            "ssdp": {"target": "10.0.0.9:1901", "interval_s": 600, "st_patterns": []},
        }
    )
    assert settings.interfaces == ("192.168.1.5", "169.254.10.1")
    assert settings.mdns.filtered_types == ()
    assert settings.ssdp.target == ("10.0.0.9", 1901)
    assert settings.ssdp.interval_s == 600.0


BAD: list[tuple[Any, str]] = [
    ([], "discovery"),
    ({"enable": True}, "discovery.enable"),
    ({"enabled": "yes"}, "discovery.enabled"),
    ({"interfaces": "eth0"}, "discovery.interfaces"),
    ({"interfaces": ["eth0"]}, "discovery.interfaces"),
    ({"interfaces": ["fe80::1"]}, "discovery.interfaces"),
    ({"interfaces": ["10.0.0.1", "10.0.0.1"]}, "discovery.interfaces"),
    ({"interfaces": [7]}, "discovery.interfaces[0]"),
    ({"address_refresh_s": 1}, "discovery.address_refresh_s"),
    ({"max_candidates": 10**9}, "discovery.max_candidates"),
    ({"announce": {"enabled": 1}}, "discovery.announce.enabled"),
    ({"announce": {"hostname": "x"}}, "discovery.announce.hostname"),
    ({"announce": "off"}, "discovery.announce"),
    ({"mdns": {"types": ["_ocpp._tcp"]}}, "discovery.mdns.types[0]"),
    ({"mdns": {"types": ["ocpp._tcp.local."]}}, "discovery.mdns.types[0]"),
    ({"mdns": {"filtered_types": ["_http._sctp.local."]}}, "discovery.mdns.filtered_types[0]"),
    ({"mdns": {"types": ["_http._tcp.local."]}}, "discovery.mdns.filtered_types"),
    ({"mdns": {"patterns": [""]}}, "discovery.mdns.patterns[0]"),
    ({"mdns": {"patterns": ["a\nb"]}}, "discovery.mdns.patterns[0]"),
    ({"mdns": {"patterns": ["x"] * 65}}, "discovery.mdns.patterns"),
    ({"mdns": {"resolve_timeout_s": 0}}, "discovery.mdns.resolve_timeout_s"),
    ({"ssdp": {"mx": 0}}, "discovery.ssdp.mx"),
    ({"ssdp": {"mx": True}}, "discovery.ssdp.mx"),
    ({"ssdp": {"interval_s": 5}}, "discovery.ssdp.interval_s"),
    ({"ssdp": {"target": "239.255.255.250"}}, "discovery.ssdp.target"),
    ({"ssdp": {"target": "host.lan:1900"}}, "discovery.ssdp.target"),
    ({"ssdp": {"target": "10.0.0.1:70000"}}, "discovery.ssdp.target"),
    ({"ssdp": {"source_port": -1}}, "discovery.ssdp.source_port"),
    ({"ssdp": {"search_target": ""}}, "discovery.ssdp.search_target"),
    ({"ssdp": {"search_target": "a\r\nMAN: x"}}, "discovery.ssdp.search_target"),
    ({"ssdp": {"server_patterns": "*"}}, "discovery.ssdp.server_patterns"),
    ({"ssdp": {"max_response_bytes": 100_000}}, "discovery.ssdp.max_response_bytes"),
    ({"ssdp": {"max_responses_per_s": 0}}, "discovery.ssdp.max_responses_per_s"),
    ({"ssdp": {"bogus": 1}}, "discovery.ssdp.bogus"),
]


@pytest.mark.parametrize(("raw", "key"), BAD, ids=[key for _, key in BAD])
def test_bad_setting_is_named_by_its_key(raw: Any, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_discovery_settings(raw)
    assert caught.value.key == key
    assert caught.value.why
