"""`aduan produce`: pushes mentions into `mentions.raw` with kafka-python, one message per post."""

from __future__ import annotations

import time
from collections.abc import Iterable

from kafka import KafkaProducer

from agents.core.split import split_line
from schemas.topics import RAW_TOPIC
from streams.errors import BrokerError
from streams.kafka.connection import REFUSALS, retriable
from streams.metrics.producer import ProducerMetrics


class RawSink:
    """Sends posts to mentions.raw; `flush` returns only when Kafka acknowledged all of them."""

    def __init__(self, producer: KafkaProducer, metrics: ProducerMetrics, user: str) -> None:
        self.producer = producer
        self.metrics = metrics
        self.user = user  # who Kafka sees, for messages (`Connection.user`)
        self.sent = 0
        self.failures: list[BaseException] = []

    def __call__(self, key: bytes | None, value: bytes) -> None:
        self.metrics.fetched.inc()
        sending = self.producer.send(RAW_TOPIC, key=key, value=value)
        sending.add_callback(self._acknowledged).add_errback(self._failed)
        self.sent += 1

    def _acknowledged(self, _: object) -> None:
        self.metrics.produced.inc()

    def _failed(self, error: BaseException) -> None:
        self.metrics.errors.inc()
        self.failures.append(error)

    def flush(self) -> None:
        self.producer.flush()
        refusals = [error for error in self.failures if isinstance(error, REFUSALS)]
        if refusals:
            raise BrokerError(
                f"Kafka refused the posts: {self.user} may not write to {RAW_TOPIC}; run the "
                "producer with the login `aduan services grant producer` makes"
            ) from refusals[0]
        if self.failures:
            first = self.failures[0]
            raise BrokerError(
                f"{len(self.failures)} of {self.sent} posts were not acknowledged by Kafka; "
                f"first error: {first}. Sending the same input again is safe: the "
                "worker drops duplicates.",
                retriable=retriable(first),
            ) from first


# `--rate` sleeps once it is this far ahead, so posts go out in steps of 10 ms: a sleep after
# every post costs the producer CPU time that the worker and the broker need on a small machine
# (docs/decisions/0024-producer-compression-and-paced-steps.md).
PACING_STEP = 0.01


def produce_lines(sink: RawSink, lines: Iterable[bytes], rate: float | None) -> int:
    """Send every post of `lines`, at most `rate` a second; returns the count once Kafka
    acknowledged them all."""
    start, before = time.monotonic(), sink.sent
    for raw in lines:
        if raw.isspace():
            continue
        for key, value in split_line(raw.rstrip(b"\r\n")):
            sink(key, value)
            if rate:
                delay = start + (sink.sent - before) / rate - time.monotonic()
                if delay >= PACING_STEP:
                    time.sleep(delay)
    sink.flush()
    return sink.sent - before
