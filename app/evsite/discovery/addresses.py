"""The IPv4 addresses discovery works on: the configured ones present, or every non-loopback one."""

from __future__ import annotations

import ipaddress

import ifaddr


def host_addresses() -> set[str]:
    """Every IPv4 address the host has right now, loopback included."""
    return {
        ip.ip
        for adapter in ifaddr.get_adapters()
        for ip in adapter.ips
        if isinstance(ip.ip, str)  # IPv6 entries are tuples
    }


def lan_addresses(configured: tuple[str, ...]) -> list[str]:
    """The configured addresses the host has (in their order), else all but loopback, sorted.

    A configured address that is not up yet is left out until it is, rather than
    announced or bound to while nobody can reach it.
    """
    present = host_addresses()
    if configured:
        return [a for a in configured if a in present]
    lan = (a for a in present if not ipaddress.ip_address(a).is_loopback)
    return sorted(lan, key=ipaddress.IPv4Address)
