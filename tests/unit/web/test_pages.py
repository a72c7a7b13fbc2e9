"""The pages do what they say through the facade, and show errors next to the problem."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from evsite.web.facade import PendingStation
from tests.unit.web.support import PASSWORD, Site, WsgiClient


def test_approving_a_pending_station_enrolls_it_and_shows_the_key_once(
    site: Site, admin: WsgiClient
) -> None:
    page = admin.get("/stations")
    assert "NEW-STATION-1" in page.text and "192.168.10.77" in page.text
    reply = admin.post("/stations/NEW-STATION-1/approve")
    assert reply.status == 200 and 'id="new-key"' in reply.text
    assert ("approve_station", ("NEW-STATION-1",)) in site.facade.calls
    assert 'id="new-key"' not in admin.get("/stations").text
    assert site.facade.audit_records("station.enrolled")[0].detail["how"] == "approved"


def test_rejecting_and_unknown_stations(site: Site, admin: WsgiClient) -> None:
    now = site.clock.now()
    site.facade.add_pending(PendingStation("ROGUE", "10.0.0.9", "mdns", now, now, 1))
    assert admin.post("/stations/ROGUE/reject").status == 303
    reply = admin.post("/stations/NOPE/approve")
    assert reply.status == 409 and "no pending station NOPE" in reply.text


def test_adding_a_station_with_a_bad_id_changes_nothing(site: Site, admin: WsgiClient) -> None:
    reply = admin.post("/stations/add", {"station_id": "bad/id"})
    assert reply.status == 400 and "station id must be" in reply.text
    reply = admin.post("/stations/add", {"station_id": "CP9", "key": "short"})
    assert reply.status == 400 and "key must be" in reply.text
    assert not [c for c in site.facade.calls if c[0].startswith("add_station")]


def test_remote_commands_report_the_station_answer(site: Site, admin: WsgiClient) -> None:
    reply = admin.post("/stations/CP0001/command", {"command": "reset-soft"})
    assert reply.status == 200 and "reset-soft: Accepted" in reply.text
    assert ("reset", ("CP0001", "Soft")) in site.facade.calls
    reply = admin.post(
        "/stations/CP0001/command", {"command": "start", "connector": "1", "id_tag": "bad tag!"}
    )
    assert reply.status == 400 and "badge id must be" in reply.text


def test_a_setting_error_is_shown_next_to_its_field_and_nothing_saved(
    site: Site, admin: WsgiClient
) -> None:
    reply = admin.post(
        "/settings/ocpp", {"f.port": "99999", "f.security_profile": "2", "f.heartbeat_s": "300"}
    )
    assert reply.status == 400
    assert 'id="error-port">must be between 1 and 65535' in reply.text
    assert 'value="99999"' in reply.text  # what was typed stays in the field
    assert site.facade.settings()["ocpp"]["port"] == 8887
    reply = admin.post(
        "/settings/ocpp", {"f.port": "9000", "f.security_profile": "2", "f.heartbeat_s": "300"}
    )
    assert reply.status == 303
    assert site.facade.settings()["ocpp"]["port"] == 9000
    assert site.facade.audit_records("config.changed")[0].detail["fields"] == ["port"]


def test_badge_import_lists_bad_lines_and_imports_nothing(site: Site, admin: WsgiClient) -> None:
    before = site.facade.badges()
    text = b"id_tag,name,group,vip\nAA11,Ann,staff,yes\nbad tag,Bob,,no\nCC33,Cy,,maybe\n"
    admin.get("/badges")
    reply = admin.multipart("/badges/import", {}, {"file": ("b.csv", text)})
    assert reply.status == 400
    assert "line 3: badge id must be" in reply.text and "line 4: vip must be" in reply.text
    assert site.facade.badges() == before
    good = b"id_tag,name,group,vip\nAA11,Ann,staff,yes\nBB22,Bob,,no\n"
    reply = admin.multipart("/badges/import", {}, {"file": ("b.csv", good)})
    assert reply.status == 200 and "2 badge(s) imported" in reply.text
    assert {b.id_tag: b.vip for b in site.facade.badges()}["AA11"] is True


def test_badge_export_round_trips_and_defuses_formulas(site: Site, admin: WsgiClient) -> None:
    admin.post("/badges", {"id_tag": "EVIL1", "name": "=HYPERLINK(1)"})
    rows = list(csv.reader(io.StringIO(admin.get("/badges.csv").text)))
    assert rows[0] == ["id_tag", "name", "group", "vip", "blocked"]
    assert ["EVIL1", "'=HYPERLINK(1)", "", "no", "no"] in rows


def test_sessions_filter_and_csv_export(site: Site, admin: WsgiClient) -> None:
    page = admin.get("/sessions?station=CP0002")
    assert page.status == 200 and "CP0001</td>" not in page.text
    reply = admin.get("/sessions.csv?station=CP0002")
    assert reply.header("Content-Type").startswith("text/csv")
    assert "attachment" in reply.header("Content-Disposition")
    rows = list(csv.reader(io.StringIO(reply.text)))
    assert rows[0][0] == "session_id" and len(rows) > 1
    assert {r[1] for r in rows[1:]} == {"CP0002"}
    assert admin.get("/sessions?from=yesterday").status == 400


def test_session_paging_links_keep_filters(site: Site, admin: WsgiClient) -> None:
    big = Site(
        site.web,
        type(site.facade)(site.clock, stations=2, sessions=120),
        site.clock,
        site.db,
        site.data_dir,
    )
    object.__setattr__(site.web.context, "facade", big.facade)
    page = admin.get("/sessions?station=CP0001")
    assert "page=2" in page.text and "station=CP0001" in page.text


def test_stations_are_listed_a_page_at_a_time_and_a_new_one_where_it_landed(
    site: Site, admin: WsgiClient
) -> None:
    object.__setattr__(site.web.context, "facade", type(site.facade)(site.clock, stations=120))
    first = admin.get("/stations").text
    assert "120 station(s); page 1 of 3." in first and 'href="/stations?page=2"' in first
    assert ">CP0050<" in first and ">CP0051<" not in first
    last = admin.get("/stations?page=3").text
    assert ">CP0101<" in last and ">CP0100<" not in last and "page=4" not in last
    assert "page 3 of 3" in admin.get("/stations?page=99").text
    assert "page 1 of 3" in admin.get("/stations?page=x").text
    reply = admin.post("/stations/NEW-STATION-1/approve")
    assert "page 3 of 3" in reply.text and ">NEW-STATION-1<" in reply.text


def test_factory_reset_needs_the_admin_password(site: Site, admin: WsgiClient) -> None:
    reply = admin.post("/maintenance/factory-reset", {"password": "wrong", "confirm": "RESET"})
    assert reply.status == 400 and ("factory_reset", ()) not in site.facade.calls
    reply = admin.post("/maintenance/factory-reset", {"password": PASSWORD, "confirm": "RESET"})
    assert reply.status == 200 and ("factory_reset", ()) in site.facade.calls


def test_ssh_switch_is_audited_with_auto_off(site: Site, admin: WsgiClient) -> None:
    assert admin.post("/maintenance/ssh", {"enabled": "on", "minutes": "30"}).status == 303
    assert site.facade.ssh_state().auto_off_at == site.clock.now() + timedelta(minutes=30)
    assert site.facade.audit_records("ssh.switched")[0].detail["auto_off_minutes"] == 30
    assert admin.post("/maintenance/ssh", {"enabled": "on", "minutes": "0"}).status == 400


def test_audit_export_and_verify(site: Site, admin: WsgiClient) -> None:
    lines = admin.get("/maintenance/audit.jsonl").text.splitlines()
    assert lines and all(line.startswith("{") for line in lines)
    reply = admin.post("/maintenance/audit/verify")
    assert 'id="audit-intact"' in reply.text


def test_error_pages_are_generic_and_never_show_a_traceback(site: Site, admin: WsgiClient) -> None:
    def boom() -> None:
        raise RuntimeError("secret internals /etc/evsite")

    site.facade.site_snapshot = boom  # type: ignore[method-assign]
    for path in ("/", "/ui/site/live.json"):
        reply = admin.get(path)
        assert reply.status == 500
        assert "Traceback" not in reply.text and "secret internals" not in reply.text
    assert admin.get("/no/such/page").status == 404
    assert "Traceback" not in admin.get("/no/such/page").text


def test_every_response_carries_the_security_headers(site: Site, admin: WsgiClient) -> None:
    for path in ("/", "/static/app.css", "/no/such/page", "/healthz", "/api/v1/site"):
        reply = admin.get(path)
        assert "frame-ancestors 'none'" in reply.header("Content-Security-Policy"), path
        assert reply.header("X-Content-Type-Options") == "nosniff"
        assert reply.header("Strict-Transport-Security").startswith("max-age=")
        expected = "public, max-age=3600" if path.startswith("/static/") else "no-store"
        assert reply.header("Cache-Control") == expected, path


def test_healthz_is_minimal(site: Site) -> None:
    from tests.unit.web.support import client

    reply = client(site).get("/healthz")
    assert (reply.status, reply.text) == (200, '{"status":"ok"}')


def test_templates_escape_what_users_typed(site: Site, admin: WsgiClient) -> None:
    admin.post("/badges", {"id_tag": "XSS1", "name": "<script>alert(1)</script>"})
    page = admin.get("/badges").text
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


def test_device_actions_the_device_refuses_show_why_and_change_nothing(
    site: Site, admin: WsgiClient
) -> None:
    site.facade.device_refuses = "helper reboot failed (exit 1): no boot partition"
    reply = admin.post("/maintenance/reboot")
    assert reply.status == 503 and "no boot partition" in reply.text
    reply = admin.post("/maintenance/ssh", {"enabled": "on", "minutes": "30"})
    assert reply.status == 503 and "SSH not switched" in reply.text
    assert not site.facade.ssh_state().enabled
    reply = admin.post("/maintenance/factory-reset", {"password": PASSWORD, "confirm": "RESET"})
    assert reply.status == 503 and "Factory reset not started" in reply.text
    assert not any(name in ("reboot", "factory_reset") for name, _ in site.facade.calls)
    failed = [r.event for r in reversed(site.facade.audit_records()) if r.outcome == "failed"]
    assert failed == ["device.reboot", "ssh.switched", "device.factory_reset"]
