"""The [uplink] table: defaults, proxy and groups modes, and errors that name the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evsite.config_errors import ConfigError
from evsite.uplink.settings import (
    DEFAULT_GROUP,
    Mode,
    OfflineStrategy,
    OnlineStrategy,
    parse_uplink_settings,
)


def proxy(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    table: dict[str, Any] = {
        "mode": "proxy",
        "ca_bank": str(ca),
        "csms": {"url": "wss://csms.example/ocpp"},
    }
    table.update(extra)
    return {"uplink": table}


def test_standalone_by_default_relays_nobody() -> None:
    settings = parse_uplink_settings({})
    assert settings.mode == Mode.STANDALONE
    assert settings.upstream_of("CP-1") is None


def test_proxy_puts_every_station_in_the_default_group(tmp_path: Path) -> None:
    settings = parse_uplink_settings(proxy(tmp_path))
    group = settings.upstream_of("anything")
    assert group is not None and group.name == DEFAULT_GROUP
    assert group.identity_url("CP 1") == "wss://csms.example/ocpp/CP%201"
    assert group.online == OnlineStrategy.CSMS and group.offline == OfflineStrategy.KNOWN


def test_groups_send_stations_to_their_own_csms_or_keep_them_local(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    settings = parse_uplink_settings(
        {
            "uplink": {
                "mode": "groups",
                "ca_bank": str(ca),
                "default_group": "fleet",
                "groups": {
                    "fleet": {"url": "wss://a.example/ocpp", "offline": "accept_all"},
                    "visitors": {"url": "wss://b.example/ocpp", "online": "local_first"},
                    "staff": {"stations": ["CP-9"]},
                },
            }
        }
    )
    assert settings.upstream_of("CP-1").name == "fleet"  # type: ignore[union-attr]
    assert settings.upstream_of("CP-9") is None  # the staff group stays local
    assert settings.groups["visitors"].online == OnlineStrategy.LOCAL_FIRST


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"mode": "mirror"}, "uplink.mode"),
        ({"csms": {"url": "ws://csms.example/ocpp"}}, "uplink.csms.url"),
        ({"csms": {"url": "wss:///ocpp"}}, "uplink.csms.url"),
        ({"csms": {"url": "wss://u:p@csms.example/"}}, "uplink.csms.url"),
        (
            {"csms": {"url": "wss://c.example", "security_profile": 1}},
            "uplink.csms.security_profile",
        ),
        ({"csms": {"url": "wss://c.example", "offline": "maybe"}}, "uplink.csms.offline"),
        ({"csms": {"url": "wss://c.example", "colour": "red"}}, "uplink.csms.colour"),
        ({"upstream_timeout": 60}, "uplink.upstream_timeout"),
        ({"journal": ["Heartbeat"]}, "uplink.journal"),
        ({"journal": ["StartTransaction"]}, "uplink.journal"),
        ({"backoff_initial": 10, "backoff_max": 1}, "uplink.backoff_max"),
        ({"ca_bank": "/nonexistent/ca.pem"}, "uplink.ca_bank"),
        ({"controller_id": "a/b"}, "uplink.controller_id"),
        ({"frobnicate": True}, "uplink.frobnicate"),
    ],
)
def test_bad_setting_names_its_key(tmp_path: Path, change: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_uplink_settings(proxy(tmp_path, **change))
    assert info.value.key == key


def test_a_csms_without_any_trust_anchor_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        parse_uplink_settings({"uplink": {"mode": "proxy", "csms": {"url": "wss://c.example"}}})
    assert info.value.key == "uplink.ca_bank"


def test_a_station_in_two_groups_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        parse_uplink_settings(
            {
                "uplink": {
                    "mode": "groups",
                    "system_cas": True,
                    "groups": {"a": {"stations": ["X"]}, "b": {"stations": ["X"]}},
                }
            }
        )
    assert info.value.key == "uplink.groups.b.stations"


def test_security_events_go_to_the_proxy_csms_by_default(tmp_path: Path) -> None:
    settings = parse_uplink_settings(proxy(tmp_path, controller_id="evsite-site-7"))
    assert settings.security_events_group == DEFAULT_GROUP
