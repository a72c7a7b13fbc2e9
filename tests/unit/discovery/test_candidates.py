"""Candidate station ids derived from what a station announced, and pattern matching."""

from __future__ import annotations

import pytest

from evsite.discovery.announce import name_for
from evsite.discovery.candidates import (
    clean_id,
    decode_txt,
    matches_any,
    mdns_instance,
    mdns_station_id,
    ssdp_station_id,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CP-0042", "CP-0042"),
        ("  Garage   Box\t1 ", "Garage Box 1"),
        ("a/b", "a-b"),
        ("bad\x00\x1bid", "badid"),
        ("x" * 60, "x" * 48),
        ("   ", None),
        ("\x00", None),
    ],
)
def test_clean_id_keeps_ids_the_ocpp_server_accepts(text: str, expected: str | None) -> None:
    assert clean_id(text) == expected


def test_mdns_id_prefers_txt_id_then_cbid_then_serial() -> None:
    txt = {"serial": "S-1", "cbid": "CB-1", "id": "ID-1"}
    assert mdns_station_id("Box", txt) == "ID-1"
    assert mdns_station_id("Box", {"serial": "S-1", "CBID": "CB-1"}) == "CB-1"
    assert mdns_station_id("Box", {"Serial": "S-1"}) == "S-1"


def test_mdns_id_falls_back_to_the_instance_name() -> None:
    assert mdns_station_id("Wallbox Garage", {"id": "  ", "path": "/"}) == "Wallbox Garage"
    assert mdns_station_id("", {}) is None


def test_instance_name_is_the_service_name_without_its_type() -> None:
    assert mdns_instance("Box 1._ocpp._tcp.local.", "_ocpp._tcp.local.") == "Box 1"
    assert mdns_instance("odd.name.", "_ocpp._tcp.local.") == "odd.name"


def test_txt_bytes_are_decoded_forgivingly() -> None:
    assert decode_txt({b"id": b"CP\xff1", b"flag": None}) == {"id": "CP\ufffd1", "flag": ""}


@pytest.mark.parametrize(
    ("usn", "location", "expected"),
    [
        ("uuid:abc-1::upnp:rootdevice", "http://10.0.0.9/", "abc-1"),
        ("UUID:abc-2", "", "abc-2"),
        ("device-7::urn:x", "", "device-7"),
        ("", "http://10.0.0.9:49152/d.xml", "10.0.0.9"),
        ("uuid:", "http://charger.lan/d.xml", "charger.lan"),
        ("", "not a url", None),
        ("", "http://[::1/", None),
    ],
)
def test_ssdp_id_from_usn_uuid_else_location_host(
    usn: str, location: str, expected: str | None
) -> None:
    assert ssdp_station_id(usn, location) == expected


def test_patterns_match_case_insensitively_as_shell_globs() -> None:
    assert matches_any(["openevse*"], ["OpenEVSE-7F2A"])
    assert matches_any(
        ["urn:schemas-*:device:*charg*"], ["urn:schemas-upnp-org:device:EVCharger:1"]
    )
    assert not matches_any(["openevse*"], ["my-openevse"])
    assert not matches_any(["*"], [""])
    assert not matches_any([], ["anything"])


def test_renamed_host_labels_stay_within_63_characters() -> None:
    assert name_for("evsite", 1) == "evsite"
    assert name_for("evsite", 2) == "evsite-2"
    long = "h" * 63
    assert name_for(long, 1) == long
    assert name_for(long, 12) == "h" * 60 + "-12"
