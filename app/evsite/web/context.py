"""What every request handler may use: the facade, the web's own stores, and the caller."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from evsite.clock import Clock
from evsite.web.accounts import Accounts, User
from evsite.web.certs import UiCertificate
from evsite.web.facade import SiteFacade
from evsite.web.firstaccess import FirstAccess
from evsite.web.render import Renderer
from evsite.web.roles import Role
from evsite.web.sessions import LoginSession, SessionStore
from evsite.web.settings import WebSettings
from evsite.web.throttle import LoginThrottle
from evsite.web.tokens import ApiToken, ApiTokens


@dataclass(frozen=True)
class WebContext:
    """The objects the web layer works with; built once by `evsite.web.service.build_web`."""

    facade: SiteFacade
    clock: Clock
    settings: WebSettings
    accounts: Accounts
    sessions: SessionStore
    tokens: ApiTokens
    throttle: LoginThrottle
    first_access: FirstAccess
    certificate: UiCertificate
    renderer: Renderer
    reload_tls: Callable[[], None]  # called after the certificate files were replaced


@dataclass(frozen=True)
class Identity:
    """Who is calling: a logged-in user, an API token, or nobody."""

    source: str
    user: User | None = None
    session: LoginSession | None = None
    token: ApiToken | None = None

    @property
    def actor(self) -> str:
        """The name written to the audit log."""
        if self.user is not None:
            return self.user.username
        if self.token is not None:
            return f"api-token:{self.token.name}"
        return "anonymous"

    @property
    def role(self) -> Role | None:
        """The user's role, None for tokens and anonymous callers."""
        return self.user.role if self.user is not None else None
