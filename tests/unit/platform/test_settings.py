"""`[platform]` settings and the firewall ports a run opens for its optional services."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from evsite.clock import FakeClock
from evsite.config import parse_settings
from evsite.config_errors import ConfigError
from evsite.platform import PlatformSettings, parse_platform_settings
from evsite.platform.sim import SimPlatform
from evsite.runtime import open_service_ports


class Audit:
    """Collects what the simulated platform records."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def record(self, event: str, **_: Any) -> None:
        """Keep the event name."""
        self.events.append(event)


def test_device_settings_parse_with_their_defaults() -> None:
    settings = parse_platform_settings(
        {"platform": {"backend": "device", "button_pin": 26, "helper_dir": "/opt/h"}}
    )
    assert settings == PlatformSettings(
        backend="device", helper_dir=Path("/opt/h"), button_pin=26, button_hold_s=10.0
    )
    assert settings.setup_window_min == 15 and settings.helper_launcher == "privileged"


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"backend": "gpio"}, "platform.backend"),
        ({"button_pin": 99}, "platform.button_pin"),
        ({"button_pin": "26"}, "platform.button_pin"),
        ({"button_pin": True}, "platform.button_pin"),
        ({"button_hold_s": 0.5}, "platform.button_hold_s"),
        ({"setup_window_min": 0}, "platform.setup_window_min"),
        ({"setup_window_min": 1.5}, "platform.setup_window_min"),
        ({"helper_dir": "relative/dir"}, "platform.helper_dir"),
        ({"helper_launcher": "su"}, "platform.helper_launcher"),
        ({"button": 26}, "platform.button"),
    ],
)
def test_bad_platform_settings_name_their_key(table: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_platform_settings({"platform": table})
    assert caught.value.key == key


def ports_opened(raw: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    platform = SimPlatform(FakeClock(), Audit())
    open_service_ports(platform, parse_settings(raw))
    return [(action, detail) for _, action, detail in platform.actions]


def test_services_off_close_both_switchable_ports() -> None:
    assert ports_opened({}) == [("close_port", {"port": 502}), ("close_port", {"port": 8886})]


def test_bms_opens_502_for_its_allowed_sources_and_plain_ws_opens_8886() -> None:
    raw = {
        "bms": {"enabled": True, "allowed": ["10.0.0.0/24", "192.168.1.7"]},
        "ocpp": {"plain_ws": True},
    }
    assert ports_opened(raw) == [
        ("open_port", {"port": 502, "sources": ["10.0.0.0/24", "192.168.1.7"]}),
        ("open_port", {"port": 8886, "sources": []}),
    ]


def test_a_service_on_another_port_is_logged_and_not_opened(
    caplog: pytest.LogCaptureFixture,
) -> None:
    raw = {"bms": {"enabled": True, "allowed": ["10.0.0.1"], "port": 1502}}
    with caplog.at_level(logging.ERROR):
        assert ("close_port", {"port": 502}) in ports_opened(raw)
    assert "port 1502 stays closed" in caplog.text
