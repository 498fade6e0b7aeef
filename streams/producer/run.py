"""`aduan produce`: mentions from a source (lines of a file or synthetic ones, the X filtered
stream, or X polling) into `mentions.raw`, with the producer's metrics served while it runs."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import partial
from typing import Literal

import tweepy

from agents.core.errors import ConfigError
from agents.core.registry import Registry
from streams.compat.kafka_connected import broker_connected
from streams.kafka.connection import Connection, kafka_producer
from streams.kafka.registry_topic import RegistryFollower, registry_in_force
from streams.metrics.producer import ProducerMetrics
from streams.metrics.registry import new_registry
from streams.producer.http import serve
from streams.producer.sink import RawSink, produce_lines
from streams.settings import Settings
from streams.x.api import count_responses
from streams.x.checkpoints import KafkaCheckpoints
from streams.x.poll import poll_forever
from streams.x.reads import PostReads
from streams.x.stream import MentionStream, run_stream

SourceKind = Literal["file", "synthetic", "x-stream", "x-poll"]


def run_producer(
    settings: Settings,
    registry: Registry,
    kind: SourceKind,
    lines: Iterable[bytes] = (),
    rate: float | None = None,
) -> int:
    """Send `lines` (for `file` and `synthetic`) or what X sends until stopped; returns the posts
    sent."""
    if kind in ("x-stream", "x-poll") and not settings.x_bearer_token:
        raise ConfigError(
            "the X API needs a bearer token: set ADUAN_X_BEARER_TOKEN, or "
            "ADUAN_X_BEARER_TOKEN_FILE to a file holding it"
        )
    # tweepy's debug log line carries the bearer token: never let it through.
    logging.getLogger("tweepy").setLevel(logging.INFO)
    metrics = ProducerMetrics(new_registry(), kind)
    producer = kafka_producer(settings)
    server = serve(
        settings.producer_web_port, metrics.registry, partial(broker_connected, producer)
    )
    sink = RawSink(producer, metrics, Connection.of(settings).user)
    try:
        if kind in ("x-stream", "x-poll"):
            _from_x(kind, settings, registry, sink)
        else:
            produce_lines(sink, lines, rate)
    except KeyboardInterrupt:
        sink.flush()
    finally:
        producer.close()
        server.shutdown()
        server.server_close()
    return sink.sent


def _from_x(kind: SourceKind, settings: Settings, registry: Registry, sink: RawSink) -> None:
    """An X source, following the registry versions `aduan agencies sync` publishes, from the
    one in force on (`registry` where none was published yet), as the worker does."""
    registry, offset = registry_in_force(settings, registry)
    follower = RegistryFollower(settings, offset)
    try:
        if kind == "x-stream":
            _stream(settings, registry, follower, sink)
        else:
            _poll(settings, registry, follower, sink)
    finally:
        follower.close()


def _stream(
    settings: Settings, registry: Registry, follower: RegistryFollower, sink: RawSink
) -> None:
    # Each stream message is flushed on its own: a live stream has no natural batch end.
    def send(key: bytes | None, value: bytes) -> None:
        sink(key, value)
        sink.flush()

    store = KafkaCheckpoints(settings, sink.producer, sink.metrics)
    reads = PostReads("x-stream", settings.x_monthly_reads, store, sink.metrics)
    stream = MentionStream(settings.x_bearer_token, send, sink.metrics, reads)
    with reads.saved_on_stop():
        run_stream(stream, registry, settings.x_backfill_minutes, follower)


def _poll(
    settings: Settings, registry: Registry, follower: RegistryFollower, sink: RawSink
) -> None:
    client = tweepy.Client(settings.x_bearer_token, return_type=dict, wait_on_rate_limit=True)
    count_responses(client.session, sink.metrics)
    checkpoints = KafkaCheckpoints(settings, sink.producer, sink.metrics)
    reads = PostReads("x-poll", settings.x_monthly_reads, checkpoints, sink.metrics)
    with reads.saved_on_stop():
        poll_forever(
            client,
            registry,
            updates=follower,
            checkpoints=checkpoints,
            sink=sink,
            flush=sink.flush,
            pause=settings.x_poll_seconds,
            reads=reads,
        )
