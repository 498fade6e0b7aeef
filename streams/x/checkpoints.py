"""The X poller's `since_id` per account, kept in a compacted Kafka topic so that a restarted
poller (on any machine) goes on where the last one stopped."""

from __future__ import annotations

from kafka import KafkaProducer

from schemas.topics import CHECKPOINT_TOPIC
from streams.kafka.admin import read_to_end
from streams.kafka.connection import kafka_errors
from streams.metrics.producer import ProducerMetrics
from streams.settings import Settings


class KafkaCheckpoints:
    def __init__(
        self, settings: Settings, producer: KafkaProducer, metrics: ProducerMetrics
    ) -> None:
        self.producer = producer
        self.metrics = metrics
        self.since: dict[str, str] = _read_all(settings)

    def get(self, account_id: str) -> str | None:
        return self.since.get(account_id)

    def put(self, account_id: str, since_id: str) -> None:
        """Stores synchronously: the checkpoint is durable when this returns."""
        with kafka_errors(f"storing the checkpoint of account {account_id}"):
            self.producer.send(
                CHECKPOINT_TOPIC, key=account_id.encode(), value=since_id.encode()
            ).get(timeout=30)
        self.since[account_id] = since_id
        self.metrics.checkpoint_time.labels(account_id).set_to_current_time()


def _read_all(settings: Settings) -> dict[str, str]:
    records, _ = read_to_end(settings, CHECKPOINT_TOPIC)
    return {record.key.decode(): record.value.decode() for record in records}
