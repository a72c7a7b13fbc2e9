"""The IPv4 addresses discovery works on: the configured ones, or every non-loopback one."""

from __future__ import annotations

import ipaddress

import ifaddr


def lan_addresses(configured: tuple[str, ...]) -> list[str]:
    """The configured addresses as given, else every IPv4 address but loopback, sorted."""
    if configured:
        return list(configured)
    found: set[str] = set()
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and not ipaddress.ip_address(ip.ip).is_loopback:
                found.add(ip.ip)
    return sorted(found, key=ipaddress.IPv4Address)
