"""Roles, and the one table that says who may use which route."""

from __future__ import annotations

from enum import IntEnum


class Role(IntEnum):
    """User roles, ordered: a higher role may do everything a lower one may."""

    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @classmethod
    def parse(cls, text: str) -> Role:
        """Role from its name ("admin", "operator", "viewer"); ValueError otherwise."""
        try:
            return cls[text.upper()]
        except KeyError:
            raise ValueError(f"unknown role {text!r}; use admin, operator or viewer") from None

    @property
    def label(self) -> str:
        """The lower-case name used in storage and forms."""
        return self.name.lower()


class Access(IntEnum):
    """What a route demands of its caller."""

    PUBLIC = 0  # anyone, no login (login page, setup, health, static files)
    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3
    API_READ = 10  # bearer token with scope read or read-write
    API_WRITE = 11  # bearer token with scope read-write


# (method, bottle route rule) -> minimum access. A route missing here is refused
# to everyone (see guard.py) and fails tests/unit/web/test_route_roles.py.
ROUTE_ACCESS: dict[tuple[str, str], Access] = {
    ("GET", "/healthz"): Access.PUBLIC,
    ("GET", "/static/<name>"): Access.PUBLIC,
    ("GET", "/setup"): Access.PUBLIC,
    ("POST", "/setup"): Access.PUBLIC,
    ("GET", "/login"): Access.PUBLIC,
    ("POST", "/login"): Access.PUBLIC,
    ("POST", "/logout"): Access.VIEWER,
    ("GET", "/account"): Access.VIEWER,
    ("POST", "/account/password"): Access.VIEWER,
    # dashboard
    ("GET", "/"): Access.VIEWER,
    ("GET", "/ui/site/live.json"): Access.VIEWER,
    ("GET", "/ui/site/history.json"): Access.VIEWER,
    # stations: reading and commands for operators; enrollment is an admin decision
    ("GET", "/stations"): Access.VIEWER,
    ("GET", "/stations/<station_id>"): Access.VIEWER,
    ("POST", "/stations/add"): Access.ADMIN,
    ("POST", "/stations/<station_id>/approve"): Access.ADMIN,
    ("POST", "/stations/<station_id>/reject"): Access.ADMIN,
    ("POST", "/stations/<station_id>/remove"): Access.ADMIN,
    ("POST", "/stations/<station_id>/command"): Access.OPERATOR,
    # sessions
    ("GET", "/sessions"): Access.VIEWER,
    ("GET", "/sessions.csv"): Access.VIEWER,
    # badges
    ("GET", "/badges"): Access.VIEWER,
    ("GET", "/badges.csv"): Access.VIEWER,
    ("POST", "/badges"): Access.OPERATOR,
    ("POST", "/badges/<id_tag>/delete"): Access.OPERATOR,
    ("POST", "/badges/groups"): Access.OPERATOR,
    ("POST", "/badges/import"): Access.OPERATOR,
    # users and API tokens
    ("GET", "/users"): Access.ADMIN,
    ("POST", "/users"): Access.ADMIN,
    ("POST", "/users/<user_id:int>/role"): Access.ADMIN,
    ("POST", "/users/<user_id:int>/disable"): Access.ADMIN,
    ("POST", "/users/<user_id:int>/enable"): Access.ADMIN,
    ("POST", "/users/<user_id:int>/password"): Access.ADMIN,
    ("POST", "/tokens"): Access.ADMIN,
    ("POST", "/tokens/<token_id:int>/revoke"): Access.ADMIN,
    # settings
    ("GET", "/settings"): Access.ADMIN,
    ("GET", "/settings/<section>"): Access.ADMIN,
    ("POST", "/settings/<section>"): Access.ADMIN,
    # maintenance
    ("GET", "/maintenance"): Access.ADMIN,
    ("GET", "/maintenance/audit.jsonl"): Access.ADMIN,
    ("POST", "/maintenance/audit/verify"): Access.ADMIN,
    ("POST", "/maintenance/diagnostics"): Access.ADMIN,
    ("POST", "/maintenance/reboot"): Access.ADMIN,
    ("POST", "/maintenance/ssh"): Access.ADMIN,
    ("POST", "/maintenance/factory-reset"): Access.ADMIN,
    ("POST", "/maintenance/certificate"): Access.ADMIN,
    ("POST", "/maintenance/update/reboot"): Access.ADMIN,
    ("POST", "/ui/update/upload"): Access.ADMIN,
    ("GET", "/ui/update/status.json"): Access.ADMIN,
    # EMS REST API
    ("GET", "/api/v1/openapi.json"): Access.PUBLIC,
    ("GET", "/api/v1/site"): Access.API_READ,
    ("GET", "/api/v1/site/limit"): Access.API_READ,
    ("PUT", "/api/v1/site/limit"): Access.API_WRITE,
    ("GET", "/api/v1/stations"): Access.API_READ,
    ("GET", "/api/v1/stations/<station_id>"): Access.API_READ,
    ("GET", "/api/v1/sessions"): Access.API_READ,
}


def required_access(method: str, rule: str) -> Access | None:
    """The access a route demands, or None when the table has no entry (refuse)."""
    return ROUTE_ACCESS.get((method.upper(), rule))
