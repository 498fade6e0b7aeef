"""The X poller's `since_id` per account and timeline, kept in a compacted Kafka topic so that a
restarted poller (on any machine) goes on where the last one stopped; and, beside them, each X
source's count of posts read per month (`streams.x.reads`)."""

from __future__ import annotations

import logging

from kafka import KafkaProducer

from schemas.topics import CHECKPOINT_TOPIC
from streams.kafka.admin import read_to_end
from streams.kafka.connection import kafka_errors
from streams.metrics.producer import ProducerMetrics
from streams.settings import Settings
from streams.x.poll import Timeline

log = logging.getLogger(__name__)


def checkpoint_key(account_id: str, timeline: Timeline) -> str:
    """The record key of a checkpoint: the mentions keep the bare account id they had before the
    posts timeline was polled, so that existing checkpoints stay valid."""
    return account_id if timeline == "mentions" else f"{account_id}:{timeline}"


def reads_key(source: str, month: str) -> str:
    """The record key of the posts `source` read in `month` (`YYYY-MM`).

    The counts share the checkpoints' topic: the producer may already read and write it, reads
    it whole at start, and compaction keeps the newest count of each key, one a month, so past
    months stay readable. The source is in the key so that a stream and a poller running at once
    do not overwrite each other's count."""
    return f"reads:{source}:{month}"


class KafkaCheckpoints:
    def __init__(
        self, settings: Settings, producer: KafkaProducer, metrics: ProducerMetrics
    ) -> None:
        self.producer = producer
        self.metrics = metrics
        self.stored: dict[str, str] = _read_all(settings)

    def get(self, account_id: str, timeline: Timeline) -> str | None:
        return self.stored.get(checkpoint_key(account_id, timeline))

    def put(self, account_id: str, timeline: Timeline, since_id: str) -> None:
        """Stores synchronously: the checkpoint is durable when this returns."""
        key = checkpoint_key(account_id, timeline)
        self._send(key, since_id, f"the {timeline} checkpoint of account {account_id}")
        self.metrics.checkpoint_time.labels(account_id).set_to_current_time()

    def reads(self, source: str, month: str) -> int:
        key = reads_key(source, month)
        count = self.stored.get(key, "0")
        if not count.isdecimal():
            log.warning(
                "%s holds %r under %s, not a count of posts: %s counts %s's X reads from 0",
                CHECKPOINT_TOPIC, count, key, source, month,
            )  # fmt: skip
            return 0
        return int(count)

    def put_reads(self, source: str, month: str, count: int) -> None:
        """Stores synchronously, as `put`."""
        self._send(reads_key(source, month), str(count), f"the X reads of {source} in {month}")

    def _send(self, key: str, value: str, what: str) -> None:
        with kafka_errors(f"storing {what}"):
            self.producer.send(CHECKPOINT_TOPIC, key=key.encode(), value=value.encode()).get(
                timeout=30
            )
        self.stored[key] = value


def _read_all(settings: Settings) -> dict[str, str]:
    records, _ = read_to_end(settings, CHECKPOINT_TOPIC)
    return {record.key.decode(): record.value.decode() for record in records}
