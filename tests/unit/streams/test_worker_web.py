"""The worker's Faust sensor metrics: a labelled series looked up once keeps counting, also
after Faust removed the per-topic series at a rebalance; a stream's label is made once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from faust.sensors.prometheus import PrometheusMonitor
from faust.types import TP, Message, StreamT
from prometheus_client import CollectorRegistry

from streams.app import create_app
from streams.settings import Settings
from streams.worker_web import PrometheusSensors, faust_metrics


def arriving() -> Message:
    """A message for `on_message_in`, which only stamps its arrival time on it."""
    return cast(Message, SimpleNamespace())


def test_faust_sensors_count_every_message_into_its_labelled_series() -> None:
    registry = CollectorRegistry()
    monitor = PrometheusMonitor(metrics=faust_metrics(registry))
    for partition, offset in [(3, 0), (3, 1), (5, 0), (3, 2)]:
        monitor.on_message_in(TP("mentions.raw", partition), offset, arriving())

    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert sample("faust_messages_received_total") == 4
    assert sample("faust_messages_received_per_topic_total", topic="mentions.raw") == 4
    partition_offset = "faust_messages_received_per_topics_partition"
    assert sample(partition_offset, topic="mentions.raw", partition="3") == 2
    assert sample(partition_offset, topic="mentions.raw", partition="5") == 0


def test_each_label_set_keeps_its_own_series() -> None:
    metrics = faust_metrics(CollectorRegistry())
    sent = metrics.topic_messages_sent
    assert sent.labels(topic="topic.a") is sent.labels(topic="topic.a")
    assert sent.labels(topic="topic.a") is not sent.labels(topic="topic.b")


def test_series_removed_at_a_rebalance_count_again_afterwards() -> None:
    registry = CollectorRegistry()
    metrics = faust_metrics(registry)
    monitor = PrometheusMonitor(metrics=metrics)
    raw = TP("mentions.raw", 0)
    monitor.on_message_in(raw, 0, arriving())
    monitor.on_send_initiated(None, "mentions.dlq", None, 0, 0)  # type: ignore[arg-type]
    metrics.clear_topic_related_metrics()  # what PrometheusMonitor.on_rebalance_start does
    monitor.on_message_in(raw, 7, arriving())
    monitor.on_send_initiated(None, "mentions.dlq", None, 0, 0)  # type: ignore[arg-type]

    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert sample("faust_messages_received_per_topic_total", topic="mentions.raw") == 1
    partition_offset = "faust_messages_received_per_topics_partition"
    assert sample(partition_offset, topic="mentions.raw", partition="0") == 7
    assert sample("faust_topic_messages_sent_total", topic="topic.mentions.dlq") == 1


def test_each_stream_is_labelled_as_faust_labels_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(Settings.from_env({"ADUAN_WORKER_DIR": str(tmp_path)}))
    streams = [app.stream(app.topic(name)) for name in ("mentions.raw", "aduan.registry")]
    for stream in streams:
        stream.task_owner = asyncio.Future(loop=app.loop)  # any object Faust can weakly refer to
    labelled: list[StreamT[Any]] = []
    faust_label = PrometheusMonitor._stream_label

    def counted_label(monitor: PrometheusMonitor, stream: StreamT[Any]) -> str:
        labelled.append(stream)
        return faust_label(monitor, stream)

    monkeypatch.setattr(PrometheusMonitor, "_stream_label", counted_label)
    ours, faust = CollectorRegistry(), CollectorRegistry()
    labels_made = []
    for monitor in [
        PrometheusSensors(metrics=faust_metrics(ours)),
        PrometheusMonitor(metrics=faust_metrics(faust)),
    ]:
        labelled.clear()
        for offset, stream in enumerate([*streams, *streams, streams[0]]):
            monitor.on_stream_event_in(TP("mentions.raw", 0), offset, stream, None)  # type: ignore[arg-type]
        labels_made.append(len(labelled))

    def per_stream(registry: CollectorRegistry) -> dict[str, float]:
        return {
            sample.labels["stream"]: sample.value
            for metric in registry.collect()
            if metric.name == "faust_total_events_per_stream"
            for sample in metric.samples
            if sample.name.endswith("_total")
        }

    assert per_stream(ours) == per_stream(faust)
    assert sorted(per_stream(ours).values()) == [2, 3]
    assert labels_made == [2, 5]  # ours once a stream, Faust's once an event
