"""Every route in the app has a role entry, and each role gets exactly what the table says."""

from __future__ import annotations

import re

import pytest

from evsite.web.accounts import User
from evsite.web.roles import ROUTE_ACCESS, Access, Role
from tests.unit.web.support import PASSWORD, Site, WsgiClient, client, set_up_admin

SAMPLES = {
    "station_id": "CP0001",
    "id_tag": "04A1B2C3",
    "user_id": "999",
    "token_id": "999",
    "section": "network",
    "name": "app.css",
}


def concrete(rule: str) -> str:
    """A route rule with sample values for its wildcards."""
    return re.sub(r"<(\w+)(:\w+)?>", lambda m: SAMPLES[m.group(1)], rule)


def routes(site: Site) -> list[tuple[str, str]]:
    return [(r.method, r.rule) for r in site.web.app.routes]


def test_every_route_has_an_entry_and_every_entry_a_route(site: Site) -> None:
    registered = set(routes(site))
    assert registered - set(ROUTE_ACCESS) == set(), "routes without a role entry"
    assert set(ROUTE_ACCESS) - registered == set(), "role entries without a route"


def _users(site: Site) -> dict[Role, User]:
    set_up_admin(site, client(site))
    accounts = site.web.context.accounts
    users = {Role.ADMIN: accounts.by_name("admin")}
    users[Role.OPERATOR] = accounts.add("oper", Role.OPERATOR, PASSWORD)
    users[Role.VIEWER] = accounts.add("view", Role.VIEWER, PASSWORD)
    return {k: v for k, v in users.items() if v is not None}


def _call(site: Site, method: str, rule: str, user: User | None) -> tuple[int, str]:
    c = WsgiClient(client(site).app)
    data: dict[str, str] | None = None
    if user is not None:
        token, session = site.web.context.sessions.create(user.user_id, "")
        c.cookie = token
        data = {"csrf": session.csrf_token} if method == "POST" else None
    elif method == "POST":
        data = {}
    reply = c.request(method, concrete(rule), data=data)
    return reply.status, reply.location


def _sent_to_login(status: int, location: str) -> bool:
    return status == 303 and (location == "/login" or location.startswith("/login?next="))


def test_each_role_and_anonymous_get_what_the_table_says(site: Site) -> None:
    users = _users(site)
    checked = 0
    for method, rule in routes(site):
        access = ROUTE_ACCESS[(method, rule)]
        if access >= Access.API_READ:
            continue
        status, location = _call(site, method, rule, None)
        if access == Access.PUBLIC:
            # (a failed login answers 401 itself; that is the page working, not a refusal)
            assert status != 403 and not _sent_to_login(status, location), rule
        elif rule.startswith("/ui/"):
            assert status == 401, rule
        else:
            assert _sent_to_login(status, location), (method, rule, status, location)
        for role, user in users.items():
            status, location = _call(site, method, rule, user)
            if access != Access.PUBLIC and role < access:
                assert status == 403, (method, rule, role, status)
            else:
                assert status != 403, (method, rule, role, status)
                assert status != 401 or rule == "/login", (method, rule, role, status)
                assert not _sent_to_login(status, location), (method, rule, role)
            checked += 1
    assert checked > 100


@pytest.mark.parametrize("scope", ["read", "read-write"])
def test_api_routes_demand_a_token_of_the_right_scope(site: Site, scope: str) -> None:
    token, _ = site.web.context.tokens.create("ems", scope, "test")  # type: ignore[arg-type]
    for method, rule in routes(site):
        access = ROUTE_ACCESS[(method, rule)]
        if access < Access.API_READ:
            continue
        c = WsgiClient(client(site).app)
        assert c.request(method, concrete(rule)).status == 401, rule
        auth = {"Authorization": f"Bearer {token}"}
        reply = c.request(
            method,
            concrete(rule),
            headers=auth,
            body=b'{"amps": 20, "expiry_s": 60}',
            content_type="application/json",
        )
        if access == Access.API_WRITE and scope == "read":
            assert reply.status == 403, rule
        else:
            assert reply.status in (200, 404), (rule, reply.status, reply.text)


def test_a_route_missing_from_the_table_is_refused_to_everyone(site: Site) -> None:
    app = site.web.app
    app.route("/unlisted", "GET", lambda: "secret")
    c = WsgiClient(client(site).app)
    set_up_admin(site, c)
    assert c.get("/unlisted").status == 403
