"""Prometheus plumbing: the registry both processes start from, the producer's metrics and its
small HTTP server (`/metrics`, `/healthz`, `/readyz`).

Label values are bounded: `source` is one of the four sources, `status` an HTTP status code,
`account` an account id from the registry, `title` one of `NOTICE_TITLES` or `other`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

from agents.core.errors import ConfigError

SOURCES = ("file", "synthetic", "x-stream", "x-poll")

NOTICE_TITLES = ("operational-disconnect", "ConnectionException")
"""Titles of the notices the X stream sends in place of a post, as its documentation lists them;
any other title is counted as `other`."""


class ProducerMetrics:
    def __init__(self, registry: CollectorRegistry, source: str) -> None:
        self.registry = registry
        self.fetched = Counter(
            "aduan_producer_posts_fetched",
            "Posts read from the source",
            ["source"],
            registry=registry,
        ).labels(source)
        self.produced = Counter(
            "aduan_producer_posts_produced",
            "Posts acknowledged by Kafka in mentions.raw",
            ["source"],
            registry=registry,
        ).labels(source)
        self.errors = Counter(
            "aduan_producer_errors",
            "Posts Kafka did not acknowledge",
            ["source"],
            registry=registry,
        ).labels(source)
        self.x_api_errors = Counter(
            "aduan_x_api_errors", "X API responses with an error status", ["status"],
            registry=registry,
        )  # fmt: skip
        self.rate_limit_waits = Counter(
            "aduan_x_rate_limit_waits",
            "X API rate-limit responses (HTTP 429) waited out",
            registry=registry,
        )
        self.stream_reconnects = Counter(
            "aduan_x_stream_reconnects",
            "Times the X filtered stream dropped and was reconnected",
            registry=registry,
        )
        self.stream_connected = Gauge(
            "aduan_x_stream_connected",
            "1 while the X filtered stream is connected",
            registry=registry,
        )
        self.stream_notices = Counter(
            "aduan_x_stream_notices",
            "Messages of the X filtered stream that carried errors and no post (not produced)",
            ["title"],
            registry=registry,
        )
        self.checkpoint_time = Gauge(
            "aduan_x_checkpoint_timestamp_seconds",
            "When the poller last advanced an account's since_id checkpoint (Unix time)",
            ["account"],
            registry=registry,
        )

    def http_status(self, status: int) -> None:
        """Counts an X API response: errors by status, 429s also as rate-limit waits."""
        if status >= 400:
            self.x_api_errors.labels(str(status)).inc()
        if status == 429:
            self.rate_limit_waits.inc()


def new_registry() -> CollectorRegistry:
    """A registry with the process's CPU, memory and Python metrics."""
    # `*_created` series double every counter's size and no dashboard or alert reads them.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


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
