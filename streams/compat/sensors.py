"""Patch (speed): Faust's Prometheus sensors count messages and events in plain integers.

Upstream: faust-streaming's `PrometheusMonitor` updates Prometheus series on every message and
event (four sensor calls a post), looks a labelled series up every time it counts, and makes a
stream's label again for every event (a regular expression and three string operations). Here the
per-message and per-event series are counted in plain integers and exported with Faust's names,
help and labels when Prometheus scrapes (`EventCounts`), labelled series are looked up once per
label set, and a stream's label is made once. The overrides reach Faust's private
`_clear_partition_related_metrics` and `_stream_label`, and keep `stream_inbound_time` (Faust's
check for a stalled stream reads it). `faust_events_runtime_ms` is not exported: Faust acks the
events of `take_events` without the sensor state it times an event by, so it stayed empty. No
upstream issue.

Verified against faust-streaming 0.15.3 and prometheus-client 0.26.0. Without it the worker is
slower (docs/decisions/0022-sensors-counted-in-integers.md).
"""

from __future__ import annotations

import collections
import functools
import time
import weakref
from collections.abc import Iterator
from typing import Any

from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP, EventT, Message, StreamT
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector

from streams.compat.upstream import Upstream

KIND = "speed"
_MONITOR = "faust.sensors.prometheus.PrometheusMonitor"
UPSTREAM = (
    Upstream(f"{_MONITOR}._clear_partition_related_metrics", ("self",)),
    Upstream(f"{_MONITOR}._stream_label", ("self", "stream")),
    Upstream(f"{_MONITOR}.on_message_in", ("self", "tp", "offset", "message")),
    Upstream(f"{_MONITOR}.on_message_out", ("self", "tp", "offset", "message")),
    Upstream(f"{_MONITOR}.on_stream_event_in", ("self", "tp", "offset", "stream", "event")),
    Upstream(
        f"{_MONITOR}.on_stream_event_out", ("self", "tp", "offset", "stream", "event", "state")
    ),
    Upstream("faust.sensors.monitor.Monitor.stream_inbound_time", instance=True),
    Upstream("faust.sensors.prometheus.FaustMetrics.create", ("registry", "app_name")),
)

PER_EVENT = {
    "messages_received",
    "active_messages",
    "messages_received_per_topics",
    "messages_received_per_topics_partition",
    "events_runtime_latency",
    "total_events",
    "total_active_events",
    "total_events_per_stream",
}
"""Faust's metrics that its sensors update on every message and event: counted here instead."""


def faust_sensors(registry: CollectorRegistry) -> PrometheusSensors:
    """Faust's Prometheus sensors, their metrics in `registry` as `faust_*`."""
    sensors = PrometheusSensors(metrics=faust_metrics(registry))
    registry.register(EventCounts(sensors))
    return sensors


class PrometheusSensors(PrometheusMonitor):
    """faust-streaming's Prometheus sensors, but counting messages and events in plain integers
    (exported by `EventCounts`) and making each stream's label once: Faust makes it again for
    every event (a regular expression and three string operations)."""

    def __init__(self, metrics: FaustMetrics) -> None:
        super().__init__(metrics=metrics)
        self._labels: weakref.WeakKeyDictionary[StreamT[Any], str] = weakref.WeakKeyDictionary()
        # Since the last rebalance, as Faust's per-topic series.
        self.received_by_topic: collections.Counter[str] = collections.Counter()
        self.events_by_label: collections.Counter[str] = collections.Counter()

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        self.messages_received_total += 1
        self.messages_active += 1
        self.received_by_topic[tp.topic] += 1
        self.tp_read_offsets[tp] = offset

    def on_message_out(self, tp: TP, offset: int, message: Message) -> None:
        self.messages_active -= 1

    def on_stream_event_in(
        self, tp: TP, offset: int, stream: StreamT[Any], event: EventT[Any]
    ) -> dict[str, Any] | None:
        self.events_total += 1
        self.events_active += 1
        self.events_by_label[self._events_label(stream)] += 1
        # Faust's check for a stream that stopped processing its partition reads this.
        self.stream_inbound_time[tp] = time.monotonic()
        return None

    def on_stream_event_out(
        self,
        tp: TP,
        offset: int,
        stream: StreamT[Any],
        event: EventT[Any],
        state: dict[str, Any] | None = None,
    ) -> None:
        self.events_active -= 1

    def _clear_partition_related_metrics(self) -> None:
        super()._clear_partition_related_metrics()
        self.received_by_topic.clear()

    def _events_label(self, stream: StreamT[Any]) -> str:
        label = self._labels.get(stream)
        if label is None:
            label = self._labels[stream] = f"stream.{self._stream_label(stream)}.events"
        return label


class EventCounts(Collector):
    """The per-message and per-event metrics of Faust's Prometheus sensors, with Faust's names,
    help and labels, read from `PrometheusSensors`' counts."""

    def __init__(self, sensors: PrometheusSensors) -> None:
        self.sensors = sensors

    def collect(self) -> Iterator[Metric]:
        sensors = self.sensors
        yield CounterMetricFamily(
            "faust_messages_received",
            "Total messages received",
            value=sensors.messages_received_total,
        )
        yield GaugeMetricFamily(
            "faust_active_messages", "Total active messages", value=sensors.messages_active
        )
        yield _with_samples(
            CounterMetricFamily(
                "faust_messages_received_per_topic",
                "Messages received per topic",
                labels=["topic"],
            ),
            {(topic,): count for topic, count in sensors.received_by_topic.items()},
        )
        yield _with_samples(
            GaugeMetricFamily(
                "faust_messages_received_per_topics_partition",
                "Messages received per topic/partition",
                labels=["topic", "partition"],
            ),
            {(tp.topic, str(tp.partition)): o for tp, o in sensors.tp_read_offsets.items()},
        )
        yield CounterMetricFamily(
            "faust_total_events", "Total events received", value=sensors.events_total
        )
        yield GaugeMetricFamily(
            "faust_total_active_events", "Total active events", value=sensors.events_active
        )
        yield _with_samples(
            CounterMetricFamily(
                "faust_total_events_per_stream", "Events received per Stream", labels=["stream"]
            ),
            {(label,): count for label, count in sensors.events_by_label.items()},
        )


def _with_samples(
    family: CounterMetricFamily | GaugeMetricFamily, samples: dict[tuple[str, ...], float]
) -> Metric:
    for labels, value in samples.items():
        family.add_metric(list(labels), value)
    return family


def faust_metrics(registry: CollectorRegistry) -> FaustMetrics:
    """faust-streaming's sensor metrics but the per-event ones (`PER_EVENT`), in `registry` as
    `faust_*`, with each labelled series looked up once per label set: Faust's sensors look one
    up every time they count. (Unlabelled metrics are wrapped too: their `labels` is never
    called, and telling them apart would need prometheus-client's private `_labelnames`.)"""
    metrics = FaustMetrics.create(CollectorRegistry(), "faust")
    for name, metric in zip(FaustMetrics._fields, metrics, strict=True):
        if name not in PER_EVENT:
            registry.register(metric)
    looked_up_once: dict[str, Any] = {
        name: SeriesByLabels(metric)
        for name, metric in zip(FaustMetrics._fields, metrics, strict=True)
    }
    return metrics._replace(**looked_up_once)


class SeriesByLabels:
    """A labelled metric that remembers the series of each label set it was asked for. Faust
    removes the per-topic series on every rebalance; a removal forgets them all, so that the
    next lookup registers a series again instead of counting into a removed one."""

    def __init__(self, metric: MetricWrapperBase) -> None:
        self._metric = metric
        self.labels = functools.cache(metric.labels)

    def remove(self, *labelvalues: Any) -> None:
        self._metric.remove(*labelvalues)
        self.labels.cache_clear()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._metric, name)
