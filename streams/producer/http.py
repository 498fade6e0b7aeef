"""The producer's small HTTP server: `/metrics`, `/healthz` and `/readyz`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from agents.core.errors import ConfigError


def serve(port: int, registry: CollectorRegistry, ready: Callable[[], bool]) -> ThreadingHTTPServer:
    """Serves the endpoints on localhost:`port` from a daemon thread; `ready` answers /readyz."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._reply(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif self.path == "/healthz":
                self._reply(200, b"alive\n")
            elif self.path == "/readyz":
                ok = ready()
                self._reply(200 if ok else 503, b"ready\n" if ok else b"broker not reachable\n")
            else:
                self._reply(404, b"not found: try /metrics, /healthz or /readyz\n")

        def _reply(self, status: int, body: bytes, kind: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Scrapes every few seconds would drown the producer's own messages."""

    try:
        server = ThreadingHTTPServer(("localhost", port), Handler)
    except OSError as exc:
        raise ConfigError(
            f"the producer cannot serve its metrics on port {port}: {exc.strerror}; another "
            "aduan produce may be running. Set ADUAN_PRODUCER_WEB_PORT to a free port."
        ) from None
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
