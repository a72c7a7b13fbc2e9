"""Login, logout, cookies, throttling, session endings, and CSRF."""

from __future__ import annotations

from evsite.web.roles import Role
from evsite.web.sessions import COOKIE_NAME
from tests.unit.web.support import PASSWORD, Site, WsgiClient, client, log_in


def test_login_sets_a_strict_host_cookie_and_logout_ends_it(site: Site, admin: WsgiClient) -> None:
    c = client(site)
    reply = log_in(c)
    cookie = reply.header("Set-Cookie")
    assert cookie.startswith(f"{COOKIE_NAME}=")
    for flag in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/"):
        assert flag.lower() in cookie.lower()
    assert "domain" not in cookie.lower()
    token = c.cookie
    assert c.get("/").status == 200
    reply = c.post("/logout")
    assert reply.status == 303 and reply.location == "/login?m=logged-out"
    c.cookie = token  # replaying the old cookie gets nothing
    assert c.get("/").status == 303


def test_login_rotates_the_session(site: Site, admin: WsgiClient) -> None:
    before = admin.cookie
    log_in(admin)
    assert admin.cookie and admin.cookie != before
    stale = WsgiClient(admin.app, cookie=before)
    assert stale.get("/").location.startswith("/login")


def test_failures_are_generic_audited_with_source_and_throttled(
    site: Site, admin: WsgiClient
) -> None:
    c = client(site)
    wrong = c.post("/login", {"username": "admin", "password": "wrong-password!"}, csrf=False)
    unknown = c.post("/login", {"username": "ghost", "password": "wrong-password!"}, csrf=False)
    assert wrong.status == unknown.status == 401
    strip = lambda t: t.replace("ghost", "").replace("admin", "")  # noqa: E731
    assert strip(wrong.text) == strip(unknown.text)
    record = site.facade.audit_records("web.login")[0]
    assert (record.outcome, record.source, record.detail["username"]) == (
        "failed",
        c.remote,
        "ghost",
    )
    for _ in range(5):
        c.post("/login", {"username": "admin", "password": "wrong-password!"}, csrf=False)
    # Now even the right password is refused for a while, with the same message.
    assert log_in(c).status == 401
    site.clock.advance(3600)
    assert log_in(c).status == 303


def test_idle_session_is_sent_back_to_login(site: Site, admin: WsgiClient) -> None:
    site.clock.advance(site.web.context.settings.idle_timeout_s + 1)
    reply = admin.get("/stations")
    assert (reply.status, reply.location) == (303, "/login?next=/stations")


def test_disabling_a_user_ends_their_sessions(site: Site, admin: WsgiClient) -> None:
    user = site.web.context.accounts.add("oper", Role.OPERATOR, PASSWORD)
    other = client(site)
    log_in(other, "oper")
    assert other.get("/badges").status == 200
    assert admin.post(f"/users/{user.user_id}/disable").status == 303
    assert other.get("/badges").status == 303
    assert log_in(client(site), "oper").status == 401


def test_password_change_ends_other_sessions_and_keeps_this_one(
    site: Site, admin: WsgiClient
) -> None:
    other = client(site)
    log_in(other)
    new = "Amber-Window-Kettle-42"
    reply = admin.post(
        "/account/password", {"current": PASSWORD, "password": new, "password2": new}
    )
    assert reply.status == 303
    assert admin.get("/").status == 200
    assert other.get("/").status == 303
    assert log_in(client(site), password=new).status == 303


def test_state_change_without_csrf_token_is_refused(site: Site, admin: WsgiClient) -> None:
    reply = admin.post("/badges", {"id_tag": "NEWTAG"}, csrf=False)
    assert reply.status == 403
    reply = admin.post("/badges", {"id_tag": "NEWTAG", "csrf": "forged"})
    assert reply.status == 403
    assert all(b.id_tag != "NEWTAG" for b in site.facade.badges())


def test_state_change_from_another_origin_is_refused(site: Site, admin: WsgiClient) -> None:
    admin.origin = "https://evil.example"
    assert admin.post("/badges", {"id_tag": "NEWTAG"}).status == 403
    admin.origin = None  # neither Origin nor Referer
    assert admin.post("/badges", {"id_tag": "NEWTAG"}).status == 403
    reply = admin.post(
        "/badges", {"id_tag": "NEWTAG"}, headers={"Referer": "https://evsite.local/badges"}
    )
    assert reply.status == 303  # a same-origin Referer is accepted when Origin is absent


def test_csrf_token_in_a_header_is_accepted(site: Site, admin: WsgiClient) -> None:
    reply = admin.request(
        "POST", "/badges", data={"id_tag": "HDRTAG"}, headers={"X-CSRF-Token": admin.last_csrf}
    )
    assert reply.status == 303


def test_get_never_changes_state(site: Site, admin: WsgiClient) -> None:
    before = (len(site.facade.calls), len(site.facade.badges()))
    for path in (
        "/stations/NEW-STATION-1/approve",
        "/badges/04A1B2C3/delete",
        "/maintenance/reboot",
        "/logout",
    ):
        assert admin.get(path).status == 405, path
    assert (len(site.facade.calls), len(site.facade.badges())) == before


def test_next_after_login_stays_on_this_site(site: Site, admin: WsgiClient) -> None:
    c = client(site)
    for target, expected in (
        ("/sessions", "/sessions"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
    ):
        reply = c.post(
            "/login", {"username": "admin", "password": PASSWORD, "next": target}, csrf=False
        )
        assert reply.location == expected
