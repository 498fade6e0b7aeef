"""The X poller's `since_id` per account and timeline, kept in a compacted Kafka topic so that a
restarted poller (on any machine) goes on where the last one stopped."""

from __future__ import annotations

from kafka import KafkaProducer

from schemas.topics import CHECKPOINT_TOPIC
from streams.kafka.admin import read_to_end
from streams.kafka.connection import kafka_errors
from streams.metrics.producer import ProducerMetrics
from streams.settings import Settings
from streams.x.poll import Timeline


def checkpoint_key(account_id: str, timeline: Timeline) -> str:
    """The record key of a checkpoint: the mentions keep the bare account id they had before the
    posts timeline was polled, so that existing checkpoints stay valid."""
    return account_id if timeline == "mentions" else f"{account_id}:{timeline}"


class KafkaCheckpoints:
    def __init__(
        self, settings: Settings, producer: KafkaProducer, metrics: ProducerMetrics
    ) -> None:
        self.producer = producer
        self.metrics = metrics
        self.since: dict[str, str] = _read_all(settings)

    def get(self, account_id: str, timeline: Timeline) -> str | None:
        return self.since.get(checkpoint_key(account_id, timeline))

    def put(self, account_id: str, timeline: Timeline, since_id: str) -> None:
        """Stores synchronously: the checkpoint is durable when this returns."""
        key = checkpoint_key(account_id, timeline)
        with kafka_errors(f"storing the {timeline} checkpoint of account {account_id}"):
            self.producer.send(CHECKPOINT_TOPIC, key=key.encode(), value=since_id.encode()).get(
                timeout=30
            )
        self.since[key] = since_id
        self.metrics.checkpoint_time.labels(account_id).set_to_current_time()


def _read_all(settings: Settings) -> dict[str, str]:
    records, _ = read_to_end(settings, CHECKPOINT_TOPIC)
    return {record.key.decode(): record.value.decode() for record in records}
