"""The [web] settings fail loudly, naming the key."""

from __future__ import annotations

import pytest

from evsite.config_errors import ConfigError
from evsite.web.settings import WebSettings


def test_defaults_are_the_device_ones() -> None:
    s = WebSettings.from_config({})
    assert (s.port, s.redirect_port, s.host) == (443, 80, "0.0.0.0")


def test_values_are_read() -> None:
    s = WebSettings.from_config(
        {"port": 8443, "redirect_port": 0, "host": "::", "cert_names": ["evsite-7.lan", "10.0.0.2"]}
    )
    assert (s.port, s.redirect_port, s.host, s.cert_names) == (
        8443,
        0,
        "::",
        ("evsite-7.lan", "10.0.0.2"),
    )


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"port": 70000}, "web.port"),
        ({"port": "443"}, "web.port"),
        ({"host": "example.com"}, "web.host"),
        ({"idle_timeout_s": 10}, "web.idle_timeout_s"),
        ({"cert_names": ["bad name!"]}, "web.cert_names"),
        ({"prot": 443}, "web.prot"),
        ({"port": 8080, "redirect_port": 8080}, "web.redirect_port"),
        ({"idle_timeout_s": 7200, "absolute_timeout_s": 3600}, "web.idle_timeout_s"),
    ],
)
def test_bad_values_name_their_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        WebSettings.from_config(raw)
    assert err.value.key == key
