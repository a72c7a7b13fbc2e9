"""The EMS REST API: tokens, scopes, JSON errors, the site limit with expiry."""

from __future__ import annotations

import json

from tests.unit.web.support import Site, WsgiClient, client


def _api(site: Site, token: str, method: str, path: str, body: object = None):  # type: ignore[no-untyped-def]
    c = WsgiClient(client(site).app, origin=None)
    raw = json.dumps(body).encode() if body is not None else None
    return c.request(
        method,
        path,
        body=raw,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


def _token(admin: WsgiClient, scope: str) -> str:
    reply = admin.post("/tokens", {"name": f"ems-{scope}", "scope": scope})
    start = reply.text.index('id="new-token">') + len('id="new-token">')
    return reply.text[start : reply.text.index("<", start)]


def test_admin_creates_a_token_that_reads_and_notes_its_use(site: Site, admin: WsgiClient) -> None:
    token = _token(admin, "read")
    reply = _api(site, token, "GET", "/api/v1/site")
    assert reply.status == 200
    body = json.loads(reply.body)
    assert body["power_w"] == 7400.0 and len(body["phases"]) == 3
    assert site.web.context.tokens.list()[0].last_used is not None
    assert "api.token.created" in [r.event for r in site.facade.audit_records("api.")]


def test_read_token_cannot_set_the_limit(site: Site, admin: WsgiClient) -> None:
    token = _token(admin, "read")
    reply = _api(site, token, "PUT", "/api/v1/site/limit", {"amps": 20, "expiry_s": 60})
    assert reply.status == 403 and json.loads(reply.body)["error"]


def test_site_limit_is_set_with_expiry_and_falls_back(site: Site, admin: WsgiClient) -> None:
    token = _token(admin, "read-write")
    reply = _api(site, token, "PUT", "/api/v1/site/limit", {"amps": 20, "expiry_s": 60})
    assert reply.status == 200 and json.loads(reply.body)["source"] == "ems"
    assert json.loads(_api(site, token, "GET", "/api/v1/site/limit").body)["amps"] == 20
    site.clock.advance(61)
    assert json.loads(_api(site, token, "GET", "/api/v1/site/limit").body)["source"] == (
        "configured"
    )


def test_bad_bodies_get_json_errors_and_change_nothing(site: Site, admin: WsgiClient) -> None:
    token = _token(admin, "read-write")
    for body, fragment in (
        ({"amps": "20", "expiry_s": 60}, "amps must be a number"),
        ({"amps": 20}, "expiry_s"),
        ({"amps": -1, "expiry_s": 60}, "between"),
        ({"amps": 20, "expiry_s": 60, "x": 1}, "unknown field"),
        ([1, 2], "JSON object"),
    ):
        reply = _api(site, token, "PUT", "/api/v1/site/limit", body)
        assert reply.status == 400 and fragment in json.loads(reply.body)["error"], body
    assert site.facade.site_limit().source == "configured"


def test_revoked_token_is_refused_at_once(site: Site, admin: WsgiClient) -> None:
    token = _token(admin, "read")
    token_id = site.web.context.tokens.list()[0].token_id
    assert admin.post(f"/tokens/{token_id}/revoke").status == 303
    reply = _api(site, token, "GET", "/api/v1/site")
    assert reply.status == 401 and reply.header("WWW-Authenticate").startswith("Bearer")


def test_tokens_are_stored_hashed(site: Site, admin: WsgiClient) -> None:
    token = _token(admin, "read")
    rows = site.db.query("SELECT token_hash FROM web_api_tokens")
    assert token not in {r[0] for r in rows}


def test_sessions_are_paged(site: Site, admin: WsgiClient) -> None:
    token = _token(admin, "read")
    body = json.loads(_api(site, token, "GET", "/api/v1/sessions?limit=5&offset=5").body)
    assert (body["total"], len(body["items"]), body["offset"]) == (20, 5, 5)
    assert _api(site, token, "GET", "/api/v1/sessions?limit=0").status == 400


def test_unknown_station_is_a_json_404(site: Site, admin: WsgiClient) -> None:
    token = _token(admin, "read")
    reply = _api(site, token, "GET", "/api/v1/stations/NOPE")
    assert reply.status == 404 and json.loads(reply.body) == {"error": "no such station"}


def test_openapi_document_is_public_and_names_every_api_route(site: Site) -> None:
    doc = json.loads(client(site).get("/api/v1/openapi.json").body)
    assert doc["openapi"].startswith("3.0")
    api_rules = {
        r.rule.replace("<station_id>", "{station_id}")[len("/api/v1") :]
        for r in site.web.app.routes
        if r.rule.startswith("/api/v1/")
    }
    assert api_rules - {"/openapi.json"} == set(doc["paths"])
