"""Parsing SSDP search responses: good ones, malformed ones, oversized ones."""

from __future__ import annotations

import pytest

from evsite.discovery.ssdp_message import (
    SsdpError,
    SsdpNotResponse,
    SsdpOversized,
    m_search,
    parse_response,
)

GOOD = (
    b"HTTP/1.1 200 OK\r\n"
    b"CACHE-CONTROL: max-age=1800\r\n"
    b"LOCATION: http://10.0.0.7:49152/desc.xml\r\n"
    b"SERVER: Linux UPnP/1.0 Wallbox/5\r\n"
    b"ST: upnp:rootdevice\r\n"
    b"USN: uuid:abc-123::upnp:rootdevice\r\n"
    b"\r\n"
)


def test_good_response_yields_its_headers() -> None:
    response = parse_response(GOOD, 2048)
    assert response.st == "upnp:rootdevice"
    assert response.usn == "uuid:abc-123::upnp:rootdevice"
    assert response.server == "Linux UPnP/1.0 Wallbox/5"
    assert response.location == "http://10.0.0.7:49152/desc.xml"


def test_header_names_are_case_insensitive_and_bare_newlines_accepted() -> None:
    data = b"HTTP/1.0 200 OK\nst: x:y\nUsn: uuid:1\nsErVeR:  s \n\n"
    response = parse_response(data, 2048)
    assert (response.st, response.usn, response.server, response.location) == (
        "x:y",
        "uuid:1",
        "s",
        "",
    )


def test_first_of_a_repeated_header_wins() -> None:
    data = b"HTTP/1.1 200 OK\r\nST: first\r\nST: second\r\nUSN: uuid:1\r\n\r\n"
    assert parse_response(data, 2048).st == "first"


def test_body_after_the_headers_is_ignored() -> None:
    data = GOOD + b"\x00\x01 whatever"
    assert parse_response(data.replace(b"\x00\x01", b""), 2048).st == "upnp:rootdevice"


def test_oversized_datagram_is_refused_before_parsing() -> None:
    with pytest.raises(SsdpOversized):
        parse_response(GOOD + b"x" * 2048, 2048)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"NOTIFY * HTTP/1.1\r\nNT: upnp:rootdevice\r\n\r\n", id="notify"),
        pytest.param(b'M-SEARCH * HTTP/1.1\r\nMAN: "ssdp:discover"\r\n\r\n', id="m-search"),
    ],
)
def test_requests_are_not_responses(data: bytes) -> None:
    with pytest.raises(SsdpNotResponse):
        parse_response(data, 2048)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\xff\xfe\x00binary", id="not-ascii"),
        pytest.param(b"HELLO\r\n\r\n", id="no-status-line"),
        pytest.param(b"HTTP/1.1 404 Not Found\r\nST: x\r\nUSN: uuid:1\r\n\r\n", id="not-200"),
        pytest.param(b"HTTP/2 200 OK\r\nST: x\r\nUSN: uuid:1\r\n\r\n", id="wrong-version"),
        pytest.param(b"HTTP/1.1 200 OK\r\nUSN: uuid:1\r\n\r\n", id="no-st"),
        pytest.param(b"HTTP/1.1 200 OK\r\nST: x\r\n\r\n", id="no-usn-no-location"),
        pytest.param(b"HTTP/1.1 200 OK\r\nST x\r\nUSN: uuid:1\r\n\r\n", id="no-colon"),
        pytest.param(b"HTTP/1.1 200 OK\r\n: v\r\nST: x\r\nUSN: u\r\n\r\n", id="empty-name"),
        pytest.param(b"HTTP/1.1 200 OK\r\nST: x\x1b[2J\r\nUSN: u\r\n\r\n", id="control-char"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nST: x\r\nUSN: uuid:" + b"a" * 600 + b"\r\n\r\n", id="long-value"
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 40 + b"ST: x\r\nUSN: u\r\n\r\n",
            id="too-many-headers",
        ),
    ],
)
def test_malformed_responses_are_refused(data: bytes) -> None:
    with pytest.raises(SsdpError):
        parse_response(data, 2048)


def test_m_search_is_the_upnp_request() -> None:
    request = m_search("ssdp:all", 2).decode("ascii")
    assert request == (
        "M-SEARCH * HTTP/1.1\r\n"
        "HOST: 239.255.255.250:1900\r\n"
        'MAN: "ssdp:discover"\r\n'
        "MX: 2\r\n"
        "ST: ssdp:all\r\n"
        "\r\n"
    )
