"""The HTTPS server (cheroot, own threads), and the plain-HTTP port that only redirects."""

from __future__ import annotations

import re
import ssl
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
SERVER_NAME = "evsite"  # the Server header: no software name, no version
_HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}$|^\[[0-9A-Fa-f:.]{2,45}\]$")


class _ContextAdapter(BuiltinSSLAdapter):
    """cheroot's builtin adapter, but with our SSLContext instead of its default one."""

    def __init__(self, context: ssl.SSLContext, cert_path: Path, key_path: Path) -> None:
        super().__init__(str(cert_path), str(key_path))
        self.context = context


class WebServer:
    """One cheroot WSGI server over TLS, serving from its own threads."""

    def __init__(
        self,
        app: WsgiApp,
        host: str,
        port: int,
        tls_context: ssl.SSLContext | None,
        *,
        cert_path: Path | None = None,
        key_path: Path | None = None,
        threads: int = 8,
        max_body_bytes: int = 2 * 1024 * 1024,
    ) -> None:
        self._server = wsgi.Server(
            (host, port),
            app,
            numthreads=threads,
            server_name=SERVER_NAME,
            timeout=30,
            shutdown_timeout=2,
        )
        self._server.max_request_header_size = 16 * 1024
        self._server.max_request_body_size = max_body_bytes
        if tls_context is not None:
            if cert_path is None or key_path is None:
                raise ValueError("a TLS server needs cert_path and key_path as well")
            self._server.ssl_adapter = _ContextAdapter(tls_context, cert_path, key_path)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (useful after binding port 0)."""
        return int(self._server.bind_addr[1])

    def start(self) -> None:
        """Bind and serve in a background thread; returns once the socket listens."""
        self._server.prepare()
        self._thread = threading.Thread(target=self._server.serve, name="web-server", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, finish in-flight requests (briefly) and join the threads."""
        self._server.stop()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


def redirect_app(https_port: int) -> WsgiApp:
    """A WSGI app that sends every request to the same path over HTTPS."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        host = (
            environ.get("HTTP_HOST", "").rsplit(":", 1)[0]
            if "]" not in environ.get("HTTP_HOST", "")
            else environ.get("HTTP_HOST", "").rsplit("]", 1)[0] + "]"
        )
        if not _HOST.match(host):
            host = "evsite.local"
        port = "" if https_port == 443 else f":{https_port}"
        path = quote(environ.get("PATH_INFO", "/"), safe="/-._~!$&'()*+,;=:@")
        if not path.startswith("/") or path.startswith("//"):
            path = "/"
        target = f"https://{host}{port}{path}"
        start_response(
            "301 Moved Permanently",
            [("Location", target), ("Content-Type", "text/plain"), ("Content-Length", "0")],
        )
        return [b""]

    return app
