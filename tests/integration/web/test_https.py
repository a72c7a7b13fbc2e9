"""The UI over real TLS: setup, login, cookies, headers, errors, limits, CSRF, redirect."""

from __future__ import annotations

import http.client
import re
import socket
import ssl

import pytest

from evsite.web.roles import ROUTE_ACCESS, Access
from evsite.web.server import WebServer, redirect_app
from tests.integration.web.conftest import HttpsClient
from tests.unit.web.support import ADMIN, PASSWORD, Site

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _set_up_and_log_in(site: Site, c: HttpsClient) -> str:
    reply = c.post(
        "/setup",
        {"secret": site.secret, "username": ADMIN, "password": PASSWORD, "password2": PASSWORD},
    )
    assert reply.status == 303
    reply = c.post("/login", {"username": ADMIN, "password": PASSWORD})
    assert reply.status == 303 and c.cookie
    match = _CSRF.search(c.get("/account").text)
    assert match
    return match.group(1)


def test_setup_login_logout_over_tls(served: Site, https: HttpsClient) -> None:
    assert https.get("/").location == "/setup"
    wrong = https.post(
        "/setup",
        {"secret": "guess", "username": ADMIN, "password": PASSWORD, "password2": PASSWORD},
    )
    assert wrong.status == 403
    csrf = _set_up_and_log_in(served, https)
    assert https.get("/setup").status == 404
    assert https.get("/").status == 200
    assert https.post("/logout", {"csrf": csrf}).status == 303
    assert https.get("/").location.startswith("/login")


def test_session_cookie_flags(served: Site, https: HttpsClient) -> None:
    https.post(
        "/setup",
        {"secret": served.secret, "username": ADMIN, "password": PASSWORD, "password2": PASSWORD},
    )
    reply = https.post("/login", {"username": ADMIN, "password": PASSWORD})
    cookie = reply.header("Set-Cookie").lower()
    assert cookie.startswith("__host-evsite=")
    assert all(flag in cookie for flag in ("secure", "httponly", "samesite=strict", "path=/"))


def test_every_page_has_the_security_headers_and_no_banner(
    served: Site, https: HttpsClient
) -> None:
    _set_up_and_log_in(served, https)
    pages = [
        rule
        for (method, rule), access in ROUTE_ACCESS.items()
        if method == "GET" and "<" not in rule and access < Access.API_READ
    ]
    for path in [*pages, "/static/app.js", "/nowhere"]:
        reply = https.get(path)
        assert reply.header("Server") == "evsite", path
        assert "script-src 'self'" in reply.header("Content-Security-Policy"), path
        assert reply.header("Strict-Transport-Security"), path
        assert reply.header("X-Content-Type-Options") == "nosniff", path
        assert reply.header("Referrer-Policy") == "same-origin", path
        if not path.startswith("/static/"):
            assert reply.header("Cache-Control") == "no-store", path


def test_forced_error_shows_no_traceback(served: Site, https: HttpsClient) -> None:
    _set_up_and_log_in(served, https)

    def boom() -> None:
        raise ZeroDivisionError("internal detail")

    served.facade.site_snapshot = boom  # type: ignore[method-assign]
    reply = https.get("/")
    assert reply.status == 500
    assert "Traceback" not in reply.text and "ZeroDivision" not in reply.text
    assert "internal detail" not in reply.text


def test_oversize_upload_is_rejected(served: Site, https: HttpsClient) -> None:
    _set_up_and_log_in(served, https)
    # Announce 200 kB (> the 128 KiB limit) and send nothing: the server answers from the
    # headers alone, before reading any of the body.
    conn = http.client.HTTPSConnection("127.0.0.1", https.port, context=https.context(), timeout=10)
    conn.putrequest("POST", "/badges/import")
    for name, value in (
        ("Content-Type", "text/csv"),
        ("Content-Length", "200000"),
        ("Origin", https.origin),
        ("Cookie", f"__Host-evsite={https.cookie}"),
    ):
        conn.putheader(name, value)
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 413
    conn.close()
    assert len(served.facade.badges()) == 2


def test_csrf_is_enforced_over_the_wire(served: Site, https: HttpsClient) -> None:
    csrf = _set_up_and_log_in(served, https)
    assert https.post("/badges", {"id_tag": "T1"}).status == 403
    assert (
        https.post("/badges", {"id_tag": "T1", "csrf": csrf}, origin="https://evil.example").status
        == 403
    )
    assert https.post("/badges", {"id_tag": "T1", "csrf": csrf}, origin=None).status == 403
    assert https.post("/badges", {"id_tag": "T1", "csrf": csrf}).status == 303


def _handshake(port: int, **opts: object) -> str:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for name, value in opts.items():
        if name == "ciphers":
            ctx.set_ciphers(str(value))
        else:
            setattr(ctx, name, value)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        return f"{tls.version()} {tls.cipher()[0]}"  # type: ignore[index]


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
def test_tls_12_and_13_only_with_forward_secret_aead(served: Site) -> None:
    port = served.web.https.port
    assert _handshake(port).startswith("TLSv1.3")
    tls12 = _handshake(port, maximum_version=ssl.TLSVersion.TLSv1_2)
    assert tls12.startswith("TLSv1.2 ECDHE-ECDSA-") and ("GCM" in tls12 or "CHACHA" in tls12)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _handshake(
            port,
            minimum_version=ssl.TLSVersion.TLSv1_2,
            maximum_version=ssl.TLSVersion.TLSv1_2,
            ciphers="ECDHE-ECDSA-AES128-SHA256",
        )
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _handshake(
            port,
            minimum_version=ssl.TLSVersion.TLSv1,
            maximum_version=ssl.TLSVersion.TLSv1_1,
            ciphers="ALL:@SECLEVEL=0",
        )


def test_plain_http_port_only_redirects(served: Site) -> None:
    server = WebServer(redirect_app(8443), "127.0.0.1", 0, None)
    server.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        conn.request("GET", "/stations?x=1", headers={"Host": "evsite.local"})
        resp = conn.getresponse()
        assert resp.status == 301
        assert resp.getheader("Location") == "https://evsite.local:8443/stations"
        resp.read()
        conn.request("POST", "/login", body=b"a=b", headers={"Host": "bad-host\\x"})
        resp2 = conn.getresponse()
        assert resp2.getheader("Location") == "https://evsite.local:8443/login"
        conn.close()
    finally:
        server.stop()


def test_uploaded_certificate_is_used_for_new_connections(served: Site, https: HttpsClient) -> None:
    from evsite.web.certs import make_self_signed

    csrf = _set_up_and_log_in(served, https)
    cert_pem, key_pem = make_self_signed(["127.0.0.1", "replaced.example"], served.clock.now())
    boundary = "b0undary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{csrf}\r\n'.encode()
    ]
    for name, data in (("cert", cert_pem), ("key", key_pem)):
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{name}.pem"\r\n\r\n'.encode()
            + data
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    reply = https.request(
        "POST",
        "/maintenance/certificate",
        body,
        {"Content-Type": f"multipart/form-data; boundary={boundary}", "Origin": https.origin},
    )
    assert reply.status == 303, reply.text
    served_cert = ssl.get_server_certificate(("127.0.0.1", served.web.https.port))
    assert served_cert.strip() == cert_pem.decode().strip()
    assert served.facade.audit_records("certificate.replaced")[0].outcome == "ok"
