"""What a discovery yields: a candidate station, its id derived from what it announced."""

from __future__ import annotations

import fnmatch
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

# The OCPP server accepts identities of up to 48 printable characters without '/'.
MAX_STATION_ID = 48
# TXT keys that carry a station's own identity, most specific first.
ID_TXT_KEYS = ("id", "cbid", "serial")
_SPACES = re.compile(r"\s+")

Source = Literal["mdns", "ssdp"]


@dataclass(frozen=True)
class Candidate:
    """A station found on the LAN that may be offered for enrollment."""

    station_id: str
    address: str
    source: Source
    detail: Mapping[str, str] = field(default_factory=dict)


def clean_id(text: str) -> str | None:
    """A station id from announced text: printable, no '/', trimmed to 48; None if nothing left."""
    printable = "".join(c for c in text if c.isprintable() or c.isspace())
    cleaned = _SPACES.sub(" ", printable).replace("/", "-").strip()
    cleaned = cleaned[:MAX_STATION_ID].strip()
    return cleaned or None


def matches_any(patterns: Iterable[str], values: Iterable[str]) -> bool:
    """True if any value matches any shell-style pattern, ignoring case."""
    folded = [v.casefold() for v in values if v]
    return any(fnmatch.fnmatchcase(v, p.casefold()) for p in patterns for v in folded)


def mdns_instance(name: str, service_type: str) -> str:
    """The instance part of a DNS-SD service name (`Box 1._ocpp._tcp.local.` -> `Box 1`)."""
    suffix = "." + service_type
    return name[: -len(suffix)] if name.endswith(suffix) else name.rstrip(".")


def mdns_station_id(instance: str, txt: Mapping[str, str]) -> str | None:
    """The candidate id: a TXT id/cbid/serial entry if present, else the instance name."""
    folded = {k.casefold(): v for k, v in txt.items()}
    for key in ID_TXT_KEYS:
        value = clean_id(folded.get(key, ""))
        if value:
            return value
    return clean_id(instance)


def decode_txt(properties: Mapping[bytes, bytes | None]) -> dict[str, str]:
    """TXT entries as text; undecodable bytes are replaced rather than refused."""
    return {
        k.decode("utf-8", "replace"): (v or b"").decode("utf-8", "replace")
        for k, v in properties.items()
    }


def ssdp_station_id(usn: str, location: str) -> str | None:
    """The candidate id: the uuid of `uuid:<id>::...` in USN, else the LOCATION host."""
    device = usn.split("::", 1)[0].strip()
    if device.casefold().startswith("uuid:"):
        device = device[len("uuid:") :]
    value = clean_id(device)
    if value:
        return value
    try:
        host = urllib.parse.urlsplit(location).hostname
    except ValueError:
        return None
    return clean_id(host) if host else None
