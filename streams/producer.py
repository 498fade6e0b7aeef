"""`aduan produce`: pushes mentions into `mentions.raw` with kafka-python, one message per post."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from kafka import KafkaProducer
from kafka.errors import KafkaError

from agents.split import split_line
from streams.settings import Settings
from streams.topics import RAW_TOPIC, BrokerError

log = logging.getLogger(__name__)


def kafka_producer(settings: Settings) -> KafkaProducer:
    """acks=all with idempotence: a post the broker acknowledged is on every in-sync replica,
    and a retried send is not written twice."""
    try:
        return KafkaProducer(
            bootstrap_servers=list(settings.bootstrap_servers),
            client_id="aduan-producer",
            acks="all",
            enable_idempotence=True,
            compression_type="gzip",
            linger_ms=5,
        )
    except KafkaError as exc:
        raise BrokerError(
            f"cannot reach Kafka at {','.join(settings.bootstrap_servers)} ({exc}); start it "
            "with deploy/kafka/broker.sh start, or set ADUAN_BROKER"
        ) from None


def produce_lines(producer: KafkaProducer, lines: Iterable[bytes], rate: float | None) -> int:
    """Send every post of `lines` to mentions.raw, at most `rate` a second; returns the count.

    Returns only after the broker acknowledged every post."""
    sent = 0
    failures: list[BaseException] = []
    start = time.monotonic()
    for raw in lines:
        if raw.isspace():
            continue
        for key, value in split_line(raw.rstrip(b"\r\n")):
            producer.send(RAW_TOPIC, key=key, value=value).add_errback(failures.append)
            sent += 1
            if rate:
                delay = start + sent / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
    producer.flush()
    if failures:
        raise BrokerError(
            f"{len(failures)} of {sent} posts were not acknowledged by Kafka; first error: "
            f"{failures[0]}. Sending the same input again is safe: the worker drops duplicates."
        )
    return sent
