"""Opening one identity's WebSocket to its CSMS with the right TLS context and credentials."""

from __future__ import annotations

import base64
import ssl

from websockets.asyncio.client import ClientConnection, connect

from evsite.uplink.credentials import CredentialStore
from evsite.uplink.settings import GroupSettings, UplinkSettings
from evsite.uplink.tls import client_context

SUBPROTOCOL = "ocpp1.6"
MAX_FRAME = 1024 * 1024


class MissingCredentials(Exception):
    """The identity has no credentials for the profile its group (or the CSMS) demands."""


class Dialer:
    """Builds and caches TLS contexts; opens connections as profile 2 or 3."""

    def __init__(self, settings: UplinkSettings, credentials: CredentialStore) -> None:
        self._settings = settings
        self._credentials = credentials
        self._shared: ssl.SSLContext | None = None
        self._per_identity: dict[str, ssl.SSLContext] = {}

    def profile_of(self, identity: str, group: GroupSettings) -> int:
        """The profile an identity uses: the group's, or higher if the CSMS raised it."""
        creds = self._credentials.get(identity)
        return max(group.security_profile, creds.security_profile if creds else 0)

    def forget(self, identity: str) -> None:
        """Credentials changed: build the identity's context afresh next time."""
        self._per_identity.pop(identity, None)

    def _context(self, identity: str, cert_pem: str | None, key_pem: str | None) -> ssl.SSLContext:
        if cert_pem is None or key_pem is None:
            if self._shared is None:
                self._shared = client_context(self._settings.ca_bank, self._settings.system_cas)
            return self._shared
        context = self._per_identity.get(identity)
        if context is None:
            context = client_context(
                self._settings.ca_bank, self._settings.system_cas, cert_pem, key_pem
            )
            self._per_identity[identity] = context
        return context

    async def dial(self, identity: str, group: GroupSettings) -> ClientConnection:
        """Connect `<csms-url>/<identity>` with subprotocol ocpp1.6."""
        profile = self.profile_of(identity, group)
        creds = self._credentials.get(identity)
        if creds is None or not creds.supports(profile):
            raise MissingCredentials(f"{identity}: no upstream credentials for profile {profile}")
        headers: dict[str, str] = {}
        if profile == 2:
            assert creds.password is not None
            token = base64.b64encode(f"{identity}:{creds.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
            context = self._context(identity, None, None)
        else:
            context = self._context(identity, creds.cert_pem, creds.key_pem)
        ws = await connect(
            group.identity_url(identity),
            ssl=context,
            subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
            additional_headers=headers,
            compression=None,
            proxy=None,
            open_timeout=self._settings.connect_timeout,
            ping_interval=self._settings.ping_interval,
            ping_timeout=self._settings.ping_interval,
            max_size=MAX_FRAME,
            user_agent_header="evsite",
        )
        if ws.subprotocol != SUBPROTOCOL:
            await ws.close(1002, "ocpp1.6 required")
            raise ConnectionError(f"{identity}: the CSMS did not accept subprotocol ocpp1.6")
        return ws
