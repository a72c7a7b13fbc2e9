"""Parsing and validating OCPP-J frames."""

from __future__ import annotations

import pytest

from evsite.ocpp.frames import (
    Call,
    CallError,
    CallResult,
    FrameError,
    encode_call,
    encode_error,
    encode_result,
    parse_frame,
    valid_timestamp,
    validate_payload,
)


def test_the_three_message_types_round_trip() -> None:
    assert parse_frame(encode_call("1", "Heartbeat", {})) == Call("1", "Heartbeat", {})
    assert parse_frame(encode_result("2", {"a": 1})) == CallResult("2", {"a": 1})
    assert parse_frame(encode_error("3", "GenericError", "x")) == CallError(
        "3", "GenericError", "x", {}
    )


@pytest.mark.parametrize(
    "text", ["2026-01-01T10:00:00Z", "2026-01-01T10:00:00.123+02:00", "2026-01-01T10:00:00"]
)
def test_valid_timestamps(text: str) -> None:
    assert valid_timestamp(text)


@pytest.mark.parametrize(
    "text",
    ["", "2026-13-01T10:00:00Z", "yesterday", "2026-01-01", "10:00:00", "2026-01-01T25:00:00Z"],
)
def test_invalid_timestamps(text: str) -> None:
    assert not valid_timestamp(text)


def test_nested_timestamps_in_meter_values_are_checked() -> None:
    payload = {
        "connectorId": 1,
        "meterValue": [{"timestamp": "not a time", "sampledValue": [{"value": "1"}]}],
    }
    with pytest.raises(FrameError) as error:
        validate_payload("MeterValues", payload)
    assert error.value.code == "TypeConstraintViolation"
    assert "meterValue/0/timestamp" in error.value.description


def test_charging_profile_decimals_validate() -> None:
    payload = {
        "connectorId": 1,
        "csChargingProfiles": {
            "chargingProfileId": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 13.3}],
            },
        },
    }
    validate_payload("SetChargingProfile", payload)


def test_a_response_is_validated_against_its_response_schema() -> None:
    with pytest.raises(FrameError):
        validate_payload("Reset", {"status": "Maybe"}, response=True)
    validate_payload("Reset", {"status": "Accepted"}, response=True)
