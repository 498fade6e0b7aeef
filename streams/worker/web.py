"""The worker's HTTP endpoints on its web port: `/metrics` (faust-streaming's own sensors as
`faust_*`, aduan's domain metrics as `aduan_*`, consumer lag), `/healthz` and `/readyz`."""

from __future__ import annotations

from collections.abc import Iterator

import faust
from faust import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from streams.compat.sensors import faust_sensors


class ConsumerLag(Collector):
    """Messages of `topic` not yet committed, per assigned partition, read at scrape time from
    the consumer's last known end offsets and the worker's commits."""

    def __init__(self, app: faust.App, topic: str) -> None:
        self.app = app
        self.topic = topic

    def collect(self) -> Iterator[Metric]:
        lag = GaugeMetricFamily(
            "aduan_consumer_lag_messages",
            f"Messages of {self.topic} the worker has not committed yet, per partition",
            labels=["partition"],
        )
        monitor = self.app.monitor
        for tp in sorted(self.app.consumer.assignment()):
            if tp.topic != self.topic:
                continue
            end = self.app.consumer.highwater(tp)
            done = monitor.tp_committed_offsets.get(tp, monitor.tp_read_offsets.get(tp))
            if end is not None and done is not None:
                lag.add_metric([str(tp.partition)], max(end - done, 0))
        yield lag


def add_endpoints(app: faust.App, registry: CollectorRegistry, raw_topic: str) -> None:
    """`/metrics`, `/healthz` and `/readyz` on the worker's web port."""
    registry.register(ConsumerLag(app, raw_topic))
    app.monitor = faust_sensors(registry)

    @app.page("/metrics")
    async def metrics(self: web.View, request: web.Request) -> web.Response:
        # As a header: aiohttp refuses a content type with a charset, which Prometheus's has.
        return self.bytes(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/healthz")
    async def healthz(self: web.View, request: web.Request) -> web.Response:
        return self.json({"status": "alive"})

    @app.page("/readyz")
    async def readyz(self: web.View, request: web.Request) -> web.Response:
        """Ready once the consumer group gave this worker its partitions."""
        assigned = bool(app.consumer.assignment()) and not app.rebalancing
        return self.json(
            {"status": "ready" if assigned else "waiting for partitions"},
            status=200 if assigned else 503,
        )
