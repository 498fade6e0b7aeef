"""The producer's metrics.

Label values are bounded: `source` is one of the four sources, `status` an HTTP status code,
`account` an account id from the registry, `title` one of `NOTICE_TITLES` or `other`."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
)

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
        self.x_posts_read = Counter(
            "aduan_x_posts_read",
            "Posts the X API returned, each counted once per UTC day as X bills them",
            registry=registry,
        )
        self.x_posts_read_month = Gauge(
            "aduan_x_posts_read_this_month",
            "Posts the X API returned this calendar month (UTC), those before a restart included",
            registry=registry,
        )
        self.x_posts_read_budget = Gauge(
            "aduan_x_posts_read_monthly_budget",
            "ADUAN_X_MONTHLY_READS: the posts the X plan may read a month (0: no budget set)",
            registry=registry,
        )

    def http_status(self, status: int) -> None:
        """Counts an X API response: errors by status, 429s also as rate-limit waits."""
        if status >= 400:
            self.x_api_errors.labels(str(status)).inc()
        if status == 429:
            self.rate_limit_waits.inc()
