"""Turn the ocpp library's typed message classes into wire payloads and back."""

from __future__ import annotations

from typing import Any

from ocpp.charge_point import (
    camel_to_snake_case,
    remove_nones,
    serialize_as_dict,
    snake_to_camel_case,
)


def to_payload(message: Any) -> dict[str, Any]:
    """A library dataclass (e.g. call_result.Heartbeat(...)) -> camelCase dict."""
    payload: dict[str, Any] = snake_to_camel_case(remove_nones(serialize_as_dict(message)))
    return payload


def from_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """camelCase dict -> snake_case dict."""
    result: dict[str, Any] = camel_to_snake_case(payload)
    return result


def action_of(message: Any) -> str:
    """The OCPP action a library call dataclass stands for."""
    return type(message).__name__
