"""Discovery: the device announces itself over mDNS and finds stations over mDNS and SSDP."""

from evsite.discovery.service import Discovery
from evsite.discovery.settings import DiscoverySettings, parse_discovery_settings

__all__ = ["Discovery", "DiscoverySettings", "parse_discovery_settings"]
