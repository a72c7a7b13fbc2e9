"""OCPP-J 1.6 framing: parse and validate raw frames, with the error codes the spec prescribes.

The `ocpp` library supplies the JSON schemas and message classes. Its own error
mapping differs from OCPP-J 1.6 section 4.2.3 (it swaps NotImplemented and
NotSupported and spells FormationViolation differently), so the mapping from a
schema violation to a CALLERROR code lives here.
"""

from __future__ import annotations

import decimal
import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from jsonschema import Draft4Validator
from jsonschema.exceptions import ValidationError, best_match
from ocpp.messages import get_validator
from ocpp.v16.enums import Action

CALL, CALL_RESULT, CALL_ERROR = 2, 3, 4
MAX_UNIQUE_ID = 36
OCPP_VERSION = "1.6"

# OCPP-J 1.6 section 4.2.3, spelled as the 1.6 specification spells them.
NOT_IMPLEMENTED = "NotImplemented"
NOT_SUPPORTED = "NotSupported"
INTERNAL_ERROR = "InternalError"
PROTOCOL_ERROR = "ProtocolError"
SECURITY_ERROR = "SecurityError"
FORMATION_VIOLATION = "FormationViolation"
PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
OCCURENCE_CONSTRAINT_VIOLATION = "OccurenceConstraintViolation"
TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"
GENERIC_ERROR = "GenericError"

# Actions of the 1.6 security extension, which the library's v16 enum lacks or has.
_KNOWN_ACTIONS = frozenset(a.value for a in Action)

# A schema keyword that failed -> the CALLERROR code for it.
_KEYWORD_CODES = {
    "type": TYPE_CONSTRAINT_VIOLATION,
    "required": OCCURENCE_CONSTRAINT_VIOLATION,
    "minItems": OCCURENCE_CONSTRAINT_VIOLATION,
    "maxItems": OCCURENCE_CONSTRAINT_VIOLATION,
    "additionalProperties": FORMATION_VIOLATION,
    "enum": PROPERTY_CONSTRAINT_VIOLATION,
    "maxLength": PROPERTY_CONSTRAINT_VIOLATION,
    "minLength": PROPERTY_CONSTRAINT_VIOLATION,
    "minimum": PROPERTY_CONSTRAINT_VIOLATION,
    "maximum": PROPERTY_CONSTRAINT_VIOLATION,
    "multipleOf": PROPERTY_CONSTRAINT_VIOLATION,
    "pattern": PROPERTY_CONSTRAINT_VIOLATION,
}
# (action, is_response) whose schemas carry decimals with one fraction digit: validated as
# Decimal, as the library does (its validator cache is keyed by schema, so we must agree).
_DECIMAL_SCHEMAS = frozenset(
    {
        ("SetChargingProfile", False),
        ("RemoteStartTransaction", False),
        ("GetCompositeSchedule", True),
    }
)


class FrameError(Exception):
    """A frame that cannot be accepted; answer with CALLERROR(code) if unique_id is known."""

    def __init__(self, code: str, description: str, unique_id: str | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.unique_id = unique_id


@dataclass(frozen=True, slots=True)
class Call:
    """A request: [2, id, action, payload]."""

    unique_id: str
    action: str
    payload: dict[str, Any]
    raw: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class CallResult:
    """A response: [3, id, payload]."""

    unique_id: str
    payload: dict[str, Any]
    raw: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class CallError:
    """An error response: [4, id, code, description, details]."""

    unique_id: str
    code: str
    description: str
    details: dict[str, Any]
    raw: str = field(default="", compare=False, repr=False)


Frame = Call | CallResult | CallError


def parse_frame(raw: str | bytes) -> Frame:
    """Parse one WebSocket text frame into a message, or raise FrameError."""
    if isinstance(raw, bytes):
        # OCPP-J uses text frames only; a binary frame is a formation error.
        raise FrameError(FORMATION_VIOLATION, "binary frames are not OCPP-J")
    try:
        msg = json.loads(raw)
    except ValueError as exc:
        raise FrameError(FORMATION_VIOLATION, f"not JSON: {str(exc)[:80]}") from None
    except RecursionError:
        raise FrameError(FORMATION_VIOLATION, "JSON nested too deeply") from None
    if not isinstance(msg, list) or not msg:
        raise FrameError(FORMATION_VIOLATION, "a frame must be a non-empty JSON array")
    unique_id = msg[1] if len(msg) > 1 and isinstance(msg[1], str) else None
    if unique_id is not None and len(unique_id) > MAX_UNIQUE_ID:
        raise FrameError(
            FORMATION_VIOLATION, f"unique id longer than {MAX_UNIQUE_ID} characters", unique_id
        )
    kind = msg[0]
    if kind == CALL and len(msg) == 4:
        _, _, action, payload = msg
        if unique_id is None or not isinstance(action, str) or not isinstance(payload, dict):
            raise FrameError(
                FORMATION_VIOLATION, "CALL must be [2, string, string, object]", unique_id
            )
        return Call(unique_id, action, payload, raw)
    if kind == CALL_RESULT and len(msg) == 3:
        if unique_id is None or not isinstance(msg[2], dict):
            raise FrameError(
                FORMATION_VIOLATION, "CALLRESULT must be [3, string, object]", unique_id
            )
        return CallResult(unique_id, msg[2], raw)
    if kind == CALL_ERROR and len(msg) == 5:
        _, _, code, description, details = msg
        if (
            unique_id is None
            or not isinstance(code, str)
            or not isinstance(description, str)
            or not isinstance(details, dict)
        ):
            raise FrameError(
                FORMATION_VIOLATION,
                "CALLERROR must be [4, string, string, string, object]",
                unique_id,
            )
        return CallError(unique_id, code, description, details, raw)
    if kind in (CALL, CALL_RESULT, CALL_ERROR):
        raise FrameError(
            FORMATION_VIOLATION, f"wrong number of elements for type {kind}", unique_id
        )
    raise FrameError(PROTOCOL_ERROR, f"unknown message type {kind!r}", unique_id)


def is_known_action(action: str) -> bool:
    """True for every action OCPP 1.6 (with the security extension) defines."""
    return action in _KNOWN_ACTIONS


@cache
def _validator(action: str, response: bool) -> Draft4Validator | None:
    parse_float: Any = decimal.Decimal if (action, response) in _DECIMAL_SCHEMAS else float
    try:
        validator: Draft4Validator = get_validator(
            CALL_RESULT if response else CALL, action, OCPP_VERSION, parse_float=parse_float
        )
    except OSError:
        return None
    return validator


def validate_payload(action: str, payload: dict[str, Any], *, response: bool = False) -> None:
    """Check a payload against the action's 1.6 schema and its timestamps; raise FrameError."""
    validator = _validator(action, response)
    if validator is None:
        raise FrameError(NOT_SUPPORTED, f"no schema for {action}")
    checked: Any = payload
    if (action, response) in _DECIMAL_SCHEMAS:
        checked = json.loads(json.dumps(payload), parse_float=decimal.Decimal)
    error = best_match(validator.iter_errors(checked))
    if error is not None:
        raise FrameError(_code_for(error), _describe(error))
    _check_timestamps(validator.schema, payload, action)


def _code_for(error: ValidationError) -> str:
    return _KEYWORD_CODES.get(str(error.validator), FORMATION_VIOLATION)


def _describe(error: ValidationError) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "payload"
    return f"{where}: {error.message}"[:200]


def _check_timestamps(schema: dict[str, Any], value: Any, where: str) -> None:
    """Walk the value alongside its schema; every 'date-time' must parse as ISO 8601."""
    if schema.get("format") == "date-time" and isinstance(value, str):
        if not valid_timestamp(value):
            raise FrameError(
                TYPE_CONSTRAINT_VIOLATION,
                f"{where}: {value[:40]!r} is not a valid ISO 8601 date-time",
            )
        return
    if isinstance(value, dict):
        for key, prop_schema in schema.get("properties", {}).items():
            if key in value:
                _check_timestamps(prop_schema, value[key], f"{where}/{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _check_timestamps(schema["items"], item, f"{where}/{i}")


def valid_timestamp(text: str) -> bool:
    """True if text is an ISO 8601 date-time with a date and a time (offset or Z optional)."""
    if len(text) < 16 or text[4] != "-" or "T" not in text.upper():
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def parse_timestamp(text: str) -> datetime:
    """Parse a validated OCPP timestamp; naive values are taken as UTC."""
    from datetime import UTC

    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def encode_call(unique_id: str, action: str, payload: dict[str, Any]) -> str:
    """Serialize a CALL."""
    return json.dumps([CALL, unique_id, action, payload], separators=(",", ":"))


def encode_result(unique_id: str, payload: dict[str, Any]) -> str:
    """Serialize a CALLRESULT."""
    return json.dumps(
        [CALL_RESULT, unique_id, payload], separators=(",", ":"), default=_decimal_default
    )


def encode_error(
    unique_id: str, code: str, description: str, details: dict[str, Any] | None = None
) -> str:
    """Serialize a CALLERROR."""
    return json.dumps(
        [CALL_ERROR, unique_id, code, description, details or {}], separators=(",", ":")
    )


def _decimal_default(value: object) -> object:
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"cannot serialize {type(value).__name__}")
