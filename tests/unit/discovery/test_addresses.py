"""Which addresses discovery works on."""

from __future__ import annotations

import ipaddress

from evsite.discovery.addresses import lan_addresses


def test_configured_addresses_are_used_while_the_host_has_them() -> None:
    # 203.0.113.0/24 is reserved for documentation: no interface here has it.
    assert lan_addresses(("203.0.113.77", "127.0.0.1")) == ["127.0.0.1"]


def test_all_interfaces_means_every_ipv4_address_but_loopback() -> None:
    found = lan_addresses(())
    assert all(ipaddress.ip_address(a).version == 4 for a in found)
    assert not any(ipaddress.ip_address(a).is_loopback for a in found)
    assert found == sorted(found, key=ipaddress.IPv4Address)
