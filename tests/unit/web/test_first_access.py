"""First access: no default password, setup only with the secret or an open window."""

from __future__ import annotations

import stat

from tests.unit.web.support import ADMIN, PASSWORD, Site, client, log_in, set_up_admin


def _setup(c, secret: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return c.post(
        "/setup",
        {"secret": secret, "username": ADMIN, "password": password, "password2": password},
        csrf=False,
    )


def test_every_page_redirects_to_setup_until_an_admin_exists(site: Site) -> None:
    c = client(site)
    for path in ("/", "/login", "/stations", "/maintenance", "/account"):
        reply = c.get(path)
        assert (reply.status, reply.location) == (303, "/setup"), path
    assert c.get("/healthz").status == 200
    assert c.get("/setup").status == 200


def test_setup_secret_file_is_private(site: Site) -> None:
    path = site.web.context.first_access.secret_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == site.secret


def test_wrong_secret_is_refused_audited_and_creates_nobody(site: Site) -> None:
    c = client(site)
    reply = _setup(c, "not-the-secret")
    assert reply.status == 403 and "secret is wrong" in reply.text
    assert site.web.context.accounts.list() == []
    assert site.facade.audit_records("web.setup")[0].outcome == "failed"


def test_weak_password_is_refused_at_setup(site: Site) -> None:
    reply = _setup(client(site), site.secret, "password2024")
    assert reply.status == 400 and "too common" in reply.text
    assert not site.web.context.first_access.done()


def test_setup_creates_the_admin_then_is_gone_for_good(site: Site) -> None:
    c = client(site)
    set_up_admin(site, c)
    assert not site.web.context.first_access.secret_path.exists()
    assert c.get("/setup").status == 404
    assert _setup(c, site.secret).status == 404
    assert log_in(c).status == 303
    assert site.facade.audit_records("web.setup")[0].detail == {"method": "secret"}


def test_open_setup_window_needs_no_secret(site: Site) -> None:
    site.facade.setup_window = True
    c = client(site)
    assert "setup window is open" in c.get("/setup").text
    reply = _setup(c, "")
    assert reply.status == 303
    assert site.facade.audit_records("web.setup")[0].detail == {"method": "window"}


def test_setup_from_another_origin_is_refused(site: Site) -> None:
    c = client(site)
    c.origin = "https://attacker.example"
    assert _setup(c, site.secret).status == 403
    assert site.web.context.accounts.list() == []


def test_the_login_page_has_no_default_credentials(site: Site) -> None:
    set_up_admin(site, client(site))
    c = client(site)
    for user, password in (("admin", "admin"), ("admin", "password"), ("root", "root")):
        assert c.post("/login", {"username": user, "password": password}, csrf=False).status == 401
