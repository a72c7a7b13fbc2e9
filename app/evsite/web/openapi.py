"""The EMS REST API described as an OpenAPI 3.0 document, written as data."""

from __future__ import annotations

from typing import Any

_NUM = {"type": "number"}
_TIME = {"type": "string", "format": "date-time"}
_TIME_OR_NULL = {"type": "string", "format": "date-time", "nullable": True}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "400": _json(_ref("Error"), "The request is invalid; the message says why"),
    "401": _json(_ref("Error"), "No valid bearer token"),
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
    },
    "SiteLimit": {
        "type": "object",
        "required": ["amps", "source", "expires_at"],
        "properties": {
            "amps": {**_NUM, "description": "Site limit per phase in amperes"},
            "source": {"type": "string", "enum": ["configured", "ems", "bms", "fallback"]},
            "expires_at": {**_TIME_OR_NULL, "description": "When an EMS/BMS setpoint lapses"},
        },
    },
    "SiteLimitRequest": {
        "type": "object",
        "required": ["amps", "expiry_s"],
        "additionalProperties": False,
        "properties": {
            "amps": {"type": "number", "minimum": 0, "maximum": 10000},
            "expiry_s": {
                "type": "integer",
                "minimum": 10,
                "maximum": 86400,
                "description": "Seconds until the limit falls back to the configured one",
            },
        },
    },
    "Phase": {
        "type": "object",
        "required": ["current_a", "limit_a"],
        "properties": {"current_a": _NUM, "limit_a": _NUM},
    },
    "Site": {
        "type": "object",
        "required": ["time", "power_w", "phases", "site_limit", "station_count", "charging_count"],
        "properties": {
            "time": _TIME,
            "power_w": _NUM,
            "phases": {"type": "array", "items": _ref("Phase"), "minItems": 3, "maxItems": 3},
            "site_limit": _ref("SiteLimit"),
            "station_count": {"type": "integer"},
            "charging_count": {"type": "integer"},
        },
    },
    "Connector": {
        "type": "object",
        "required": ["id", "status", "transaction_id"],
        "properties": {
            "id": {"type": "integer"},
            "status": {"type": "string"},
            "transaction_id": {"type": "integer", "nullable": True},
        },
    },
    "Station": {
        "type": "object",
        "required": [
            "id",
            "connected",
            "connectors",
            "limit_a",
            "binding_constraint",
            "session_energy_wh",
            "current_a",
            "address",
            "last_seen",
        ],
        "properties": {
            "id": {"type": "string"},
            "connected": {"type": "boolean"},
            "connectors": {"type": "array", "items": _ref("Connector")},
            "limit_a": {"type": "number", "nullable": True},
            "binding_constraint": {"type": "string"},
            "session_energy_wh": {"type": "number", "nullable": True},
            "current_a": {"type": "array", "items": _NUM, "minItems": 3, "maxItems": 3},
            "address": {"type": "string"},
            "last_seen": _TIME_OR_NULL,
        },
    },
    "StationList": {
        "type": "object",
        "required": ["stations"],
        "properties": {"stations": {"type": "array", "items": _ref("Station")}},
    },
    "Session": {
        "type": "object",
        "required": [
            "id",
            "station_id",
            "connector_id",
            "badge",
            "started",
            "stopped",
            "energy_wh",
            "stop_reason",
        ],
        "properties": {
            "id": {"type": "integer"},
            "station_id": {"type": "string"},
            "connector_id": {"type": "integer"},
            "badge": {"type": "string"},
            "started": _TIME,
            "stopped": _TIME_OR_NULL,
            "energy_wh": _NUM,
            "stop_reason": {"type": "string"},
        },
    },
    "SessionPage": {
        "type": "object",
        "required": ["total", "limit", "offset", "items"],
        "properties": {
            "total": {"type": "integer"},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
            "items": {"type": "array", "items": _ref("Session")},
        },
    },
}


def _q(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


PATHS: dict[str, Any] = {
    "/site": {
        "get": {
            "operationId": "getSite",
            "summary": "Site power, per-phase currents and limits",
            "responses": {"200": _json(_ref("Site"), "The site now"), **_ERRORS},
        }
    },
    "/site/limit": {
        "get": {
            "operationId": "getSiteLimit",
            "summary": "The effective site limit",
            "responses": {"200": _json(_ref("SiteLimit"), "The limit in force"), **_ERRORS},
        },
        "put": {
            "operationId": "setSiteLimit",
            "summary": "Set the site limit per phase for a while; it falls back when it expires",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("SiteLimitRequest")}},
            },
            "responses": {
                "200": _json(_ref("SiteLimit"), "The limit now in force"),
                **_ERRORS,
                "403": _json(_ref("Error"), "The token may only read"),
                "413": _json(_ref("Error"), "The body is too large"),
                "415": _json(_ref("Error"), "The body is not JSON"),
            },
        },
    },
    "/stations": {
        "get": {
            "operationId": "listStations",
            "summary": "Every enrolled station's live state",
            "responses": {"200": _json(_ref("StationList"), "The stations"), **_ERRORS},
        }
    },
    "/stations/{station_id}": {
        "get": {
            "operationId": "getStation",
            "summary": "One station's live state",
            "parameters": [
                {"name": "station_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": _json(_ref("Station"), "The station"),
                **_ERRORS,
                "404": _json(_ref("Error"), "No such station"),
            },
        }
    },
    "/sessions": {
        "get": {
            "operationId": "listSessions",
            "summary": "Charge sessions, newest first, paged",
            "parameters": [
                _q("station", {"type": "string"}, "Only this station"),
                _q("badge", {"type": "string"}, "Only this badge"),
                _q("from", {"type": "string", "format": "date-time"}, "Started at or after"),
                _q("to", {"type": "string", "format": "date-time"}, "Started before"),
                _q(
                    "limit",
                    {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
                    "Page size",
                ),
                _q(
                    "offset",
                    {"type": "integer", "minimum": 0, "maximum": 1_000_000_000, "default": 0},
                    "Sessions to skip",
                ),
            ],
            "responses": {"200": _json(_ref("SessionPage"), "One page"), **_ERRORS},
        }
    },
}


def openapi_document(version: str) -> dict[str, Any]:
    """The whole document; every operation needs a bearer token (scope read, or read-write)."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "evsite EMS API",
            "version": version,
            "description": "Read the site state and sessions, and set the site limit with an "
            "expiry. Tokens are created by an admin in the web UI (Users page).",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
