"""`aduan deliver`'s metrics and its small HTTP server: `/metrics`, `/healthz` and `/readyz`.

Label values are bounded: `agency` is an agency id of the registry, `outcome` one of `OUTCOMES`,
`cause` an HTTP status code, `timeout` or `connection`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from agents.core.errors import ConfigError

Outcome = Literal["delivered", "retried", "dead_lettered"]
OUTCOMES: tuple[Outcome, ...] = ("delivered", "retried", "dead_lettered")

LAG_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
"""Seconds, up to the default retry time: from a healthy endpoint to one that failed a while."""


class WebhookMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.deliveries = Counter(
            "aduan_webhook_deliveries",
            "Webhook attempts by outcome: delivered (2xx), retried (failed, tried again later), "
            "and events given up and dead-lettered",
            ["agency", "outcome"],
            registry=registry,
        )
        self.failed_attempts = Counter(
            "aduan_webhook_failed_attempts",
            "Webhook attempts that failed, by cause: the HTTP status, timeout or connection",
            ["agency", "cause"],
            registry=registry,
        )
        self.lag = Histogram(
            "aduan_webhook_delivery_lag_seconds",
            "From an event's Kafka record timestamp to its endpoint's 2xx answer",
            ["agency"],
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.pending = Gauge(
            "aduan_webhook_pending_events",
            "Events read and waiting for the agency's endpoint, the one being attempted included",
            ["agency"],
            registry=registry,
        )

    def agency(self, agency: str) -> None:
        """Shows the agency's series at 0 before its first event, so rates start from there."""
        for outcome in OUTCOMES:
            self.deliveries.labels(agency, outcome)
        self.pending.labels(agency)


async def serve_metrics(
    registry: CollectorRegistry, port: int, ready: Callable[[], bool]
) -> web.AppRunner:
    """Serves the endpoints on localhost:`port`; `ready` answers /readyz. Stop with `cleanup()`."""

    async def metrics(_: web.Request) -> web.Response:
        response = web.Response(body=generate_latest(registry))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="alive\n")

    async def readyz(_: web.Request) -> web.Response:
        if ready():
            return web.Response(text="ready\n")
        return web.Response(status=503, text="no partitions assigned yet\n")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "localhost", port).start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(
            f"aduan deliver cannot serve its metrics on port {port}: {exc.strerror}; another "
            "aduan deliver may be running. Set ADUAN_DELIVER_PORT to a free port."
        ) from None
    return runner
