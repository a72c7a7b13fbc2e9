"""Which addresses discovery works on."""

from __future__ import annotations

import ipaddress

from evsite.discovery.addresses import lan_addresses


def test_configured_addresses_are_used_as_given() -> None:
    assert lan_addresses(("127.0.0.1", "10.0.0.2")) == ["127.0.0.1", "10.0.0.2"]


def test_all_interfaces_means_every_ipv4_address_but_loopback() -> None:
    found = lan_addresses(())
    assert all(ipaddress.ip_address(a).version == 4 for a in found)
    assert not any(ipaddress.ip_address(a).is_loopback for a in found)
    assert found == sorted(found, key=ipaddress.IPv4Address)
