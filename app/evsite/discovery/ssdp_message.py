"""SSDP wire format: the M-SEARCH request and strict parsing of its unicast answers."""

from __future__ import annotations

from dataclasses import dataclass

MAX_HEADERS = 32
MAX_VALUE = 512


class SsdpError(ValueError):
    """A datagram is not an acceptable SSDP search response."""


class SsdpOversized(SsdpError):
    """A datagram is larger than the configured limit."""


class SsdpNotResponse(SsdpError):
    """A well-formed SSDP message that is not a search response (NOTIFY, M-SEARCH)."""


@dataclass(frozen=True)
class SsdpResponse:
    """The headers of one search response that discovery uses."""

    st: str
    usn: str
    server: str
    location: str


def m_search(search_target: str, mx: int, host: str = "239.255.255.250:1900") -> bytes:
    """An `M-SEARCH * HTTP/1.1` request for a search target."""
    lines = [
        "M-SEARCH * HTTP/1.1",
        f"HOST: {host}",
        'MAN: "ssdp:discover"',
        f"MX: {mx}",
        f"ST: {search_target}",
        "",
        "",
    ]
    return "\r\n".join(lines).encode("ascii")


def parse_response(data: bytes, max_bytes: int) -> SsdpResponse:
    """Parse an HTTP-over-UDP search response; raise SsdpError (or a subclass) for anything else."""
    if len(data) > max_bytes:
        raise SsdpOversized(f"{len(data)} bytes, limit {max_bytes}")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise SsdpError("not ASCII") from None
    lines = text.replace("\r\n", "\n").split("\n")
    start = lines[0].split(" ", 2)
    if start[0] in ("NOTIFY", "M-SEARCH"):
        raise SsdpNotResponse(start[0])
    if len(start) < 2 or start[0] not in ("HTTP/1.1", "HTTP/1.0"):
        raise SsdpError("no HTTP status line")
    if start[1] != "200":
        raise SsdpError(f"status {start[1][:8]!r}")
    headers: dict[str, str] = {}
    for count, line in enumerate(lines[1:], start=1):
        if not line:
            break
        if count > MAX_HEADERS:
            raise SsdpError("too many headers")
        name, sep, value = line.partition(":")
        name = name.strip().casefold()
        value = value.strip()
        if not sep or not name or " " in name:
            raise SsdpError("header line without a name")
        if len(value) > MAX_VALUE or not value.isprintable():
            raise SsdpError(f"bad {name} header")
        headers.setdefault(name, value)
    st = headers.get("st", "")
    usn = headers.get("usn", "")
    location = headers.get("location", "")
    if not st:
        raise SsdpError("no ST header")
    if not usn and not location:
        raise SsdpError("neither USN nor LOCATION")
    return SsdpResponse(st=st, usn=usn, server=headers.get("server", ""), location=location)
