"""The worker's Faust sensor metrics: messages and events exported as Faust's own sensors export
them; a labelled series looked up once keeps counting, also after a rebalance removed the
per-topic series; a stream's label is made once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP, Message, StreamT
from prometheus_client import CollectorRegistry

from streams.compat.sensors import faust_metrics, faust_sensors
from streams.settings import Settings
from streams.worker.app import create_app


def arriving() -> Message:
    """A message for `on_message_in`, which only stamps its arrival time on it."""
    return cast(Message, SimpleNamespace())


def hooks(monitor: PrometheusMonitor, stream: StreamT[Any]) -> None:
    """Faust's per-message and per-event sensor calls for five messages, one not done yet."""
    for partition, offset in [(3, 0), (3, 1), (5, 0), (3, 2), (5, 1)]:
        tp = TP("mentions.raw", partition)
        message = arriving()
        monitor.on_message_in(tp, offset, message)
        state = monitor.on_stream_event_in(tp, offset, stream, None)  # type: ignore[arg-type]
        if offset < 2:
            monitor.on_stream_event_out(tp, offset, stream, None, state)  # type: ignore[arg-type]
            monitor.on_message_out(tp, offset, message)


def exported(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if not sample.name.endswith("_created")
    }


def test_the_sensors_export_what_faust_s_own_export_for_messages_and_events(tmp_path: Path) -> None:
    app = create_app(Settings.from_env({"ADUAN_WORKER_DIR": str(tmp_path)}))
    stream = app.stream(app.topic("mentions.raw"))
    stream.task_owner = asyncio.Future(loop=app.loop)  # any object Faust can weakly refer to
    ours, faust = CollectorRegistry(), CollectorRegistry()
    sensors = faust_sensors(ours)
    monitor = PrometheusMonitor(metrics=FaustMetrics.create(faust, "faust"))
    hooks(sensors, stream)
    hooks(monitor, stream)

    theirs = {
        key: value
        for key, value in exported(faust).items()
        if not key[0].startswith("faust_events_runtime_ms")  # not exported (PER_EVENT)
    }
    assert exported(ours) == theirs
    assert theirs[("faust_messages_received_total", ())] == 5
    assert theirs[("faust_total_active_events", ())] == 1
    # What Faust's check for a stream that stopped processing a partition reads.
    assert sensors.stream_inbound_time.keys() == monitor.stream_inbound_time.keys() != set()


def test_each_label_set_keeps_its_own_series() -> None:
    metrics = faust_metrics(CollectorRegistry())
    sent = metrics.topic_messages_sent
    assert sent.labels(topic="topic.a") is sent.labels(topic="topic.a")
    assert sent.labels(topic="topic.a") is not sent.labels(topic="topic.b")


def test_series_removed_at_a_rebalance_count_again_afterwards() -> None:
    registry = CollectorRegistry()
    sensors = faust_sensors(registry)
    raw = TP("mentions.raw", 0)
    sensors.on_message_in(raw, 0, arriving())
    sensors.on_message_in(TP("mentions.raw", 1), 0, arriving())
    sensors.on_send_initiated(None, "mentions.dlq", None, 0, 0)  # type: ignore[arg-type]
    sensors._clear_partition_related_metrics()  # what on_rebalance_start does
    sensors.on_message_in(raw, 7, arriving())
    sensors.on_send_initiated(None, "mentions.dlq", None, 0, 0)  # type: ignore[arg-type]

    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert sample("faust_messages_received_total") == 3
    assert sample("faust_messages_received_per_topic_total", topic="mentions.raw") == 1
    partition_offset = "faust_messages_received_per_topics_partition"
    assert sample(partition_offset, topic="mentions.raw", partition="0") == 7
    assert sample(partition_offset, topic="mentions.raw", partition="1") is None
    assert sample("faust_topic_messages_sent_total", topic="topic.mentions.dlq") == 1


def test_each_stream_is_labelled_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(Settings.from_env({"ADUAN_WORKER_DIR": str(tmp_path)}))
    streams = [app.stream(app.topic(name)) for name in ("mentions.raw", "aduan.registry")]
    for stream in streams:
        stream.task_owner = asyncio.Future(loop=app.loop)
    labelled: list[StreamT[Any]] = []
    faust_label = PrometheusMonitor._stream_label

    def counted_label(monitor: PrometheusMonitor, stream: StreamT[Any]) -> str:
        labelled.append(stream)
        return faust_label(monitor, stream)

    monkeypatch.setattr(PrometheusMonitor, "_stream_label", counted_label)
    registry = CollectorRegistry()
    sensors = faust_sensors(registry)
    for offset, stream in enumerate([*streams, *streams, streams[0]]):
        sensors.on_stream_event_in(TP("mentions.raw", 0), offset, stream, None)  # type: ignore[arg-type]

    per_stream = {
        sample.labels["stream"]: sample.value
        for metric in registry.collect()
        if metric.name == "faust_total_events_per_stream"
        for sample in metric.samples
    }
    assert sorted(per_stream.values()) == [2, 3]
    assert labelled == streams
