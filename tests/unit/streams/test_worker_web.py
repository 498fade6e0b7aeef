"""The worker's Faust sensor metrics: a labelled series looked up once keeps counting, also
after Faust removed the per-topic series at a rebalance."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

from faust.sensors.prometheus import PrometheusMonitor
from faust.types import TP, Message
from prometheus_client import CollectorRegistry

from streams.worker_web import faust_metrics


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
