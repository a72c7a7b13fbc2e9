"""Build the whole web layer from its dependencies: the composition root calls build_web()."""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from pathlib import Path

from bottle import Bottle

from evsite.clock import Clock
from evsite.store.db import Database
from evsite.web.accounts import Accounts
from evsite.web.app import build_app, wsgi
from evsite.web.certs import UiCertificate, default_names
from evsite.web.context import WebContext
from evsite.web.facade import SiteFacade
from evsite.web.firstaccess import FirstAccess
from evsite.web.passwords import HashParams, Passwords
from evsite.web.render import Renderer
from evsite.web.server import WebServer, redirect_app
from evsite.web.sessions import SessionStore
from evsite.web.settings import WebSettings
from evsite.web.throttle import LoginThrottle
from evsite.web.tls import server_context
from evsite.web.tokens import ApiTokens

log = logging.getLogger("evsite.web")
CERT_DIR = "web-tls"


@dataclass
class WebService:
    """The web layer, built and ready to start."""

    app: Bottle
    context: WebContext
    tls_context: ssl.SSLContext
    https: WebServer
    redirect: WebServer | None
    setup_secret: str | None  # the one-time secret while no admin exists, else None

    def start(self) -> None:
        """Start serving HTTPS (and the redirect port, when on)."""
        self.https.start()
        if self.redirect is not None:
            self.redirect.start()
        if self.setup_secret is not None:
            log.warning(
                "no administrator yet: open https://<device>:%d/setup with the secret "
                "from %s (evsite user setup-secret prints it)",
                self.https.port,
                self.context.first_access.secret_path,
            )

    def stop(self) -> None:
        """Stop both servers."""
        if self.redirect is not None:
            self.redirect.stop()
        self.https.stop()


def build_web(
    *,
    db: Database,
    clock: Clock,
    facade: SiteFacade,
    settings: WebSettings,
    data_dir: Path,
    hash_params: HashParams | None = None,
) -> WebService:
    """Create certificate and setup secret if missing, the stores, the app and the servers.

    `db` must have been opened with extra={"web": WEB_MIGRATIONS}.
    """
    certificate = UiCertificate(data_dir / CERT_DIR)
    if certificate.ensure(default_names(settings.cert_names), clock.now()):
        facade.record("certificate.created", detail={"purpose": "web UI", "self_signed": True})
    tls = server_context(certificate.cert_path, certificate.key_path)
    first_access = FirstAccess(db, data_dir, facade.setup_window_open)
    secret = first_access.ensure_secret()
    ctx = WebContext(
        facade=facade,
        clock=clock,
        settings=settings,
        accounts=Accounts(db, clock, Passwords(hash_params or HashParams())),
        sessions=SessionStore(db, clock, settings.idle_timeout_s, settings.absolute_timeout_s),
        tokens=ApiTokens(db, clock),
        throttle=LoginThrottle(clock),
        first_access=first_access,
        certificate=certificate,
        renderer=Renderer(),
        reload_tls=lambda: tls.load_cert_chain(certificate.cert_path, certificate.key_path),
    )
    ctx.sessions.purge_expired()
    app = build_app(ctx)
    https = WebServer(
        wsgi(app),
        settings.host,
        settings.port,
        tls,
        cert_path=certificate.cert_path,
        key_path=certificate.key_path,
        threads=settings.threads,
        # Bundle uploads stream past the form limit; their own route holds every other
        # route to max_body_bytes (web/upload.py).
        max_body_bytes=max(settings.max_body_bytes, facade.update_status().max_upload_bytes),
    )
    redirect = None
    if settings.redirect_port:
        redirect = WebServer(
            redirect_app(settings.port),
            settings.host,
            settings.redirect_port,
            None,
            threads=2,
            max_body_bytes=64 * 1024,
        )
    return WebService(app, ctx, tls, https, redirect, secret)
