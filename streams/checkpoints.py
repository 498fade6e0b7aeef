"""The X poller's `since_id` per account, kept in a compacted Kafka topic so that a restarted
poller (on any machine) goes on where the last one stopped."""

from __future__ import annotations

from kafka import KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from streams.settings import Settings
from streams.topics import CHECKPOINT_TOPIC, BrokerError, kafka_consumer


class KafkaCheckpoints:
    def __init__(self, settings: Settings, producer: KafkaProducer) -> None:
        self.producer = producer
        self.since: dict[str, str] = _read_all(settings)

    def get(self, account_id: str) -> str | None:
        return self.since.get(account_id)

    def put(self, account_id: str, since_id: str) -> None:
        """Stores synchronously: the checkpoint is durable when this returns."""
        try:
            self.producer.send(
                CHECKPOINT_TOPIC, key=account_id.encode(), value=since_id.encode()
            ).get(timeout=30)
        except KafkaError as exc:
            raise BrokerError(
                f"storing the checkpoint of account {account_id} failed: {exc}"
            ) from None
        self.since[account_id] = since_id


def _read_all(settings: Settings) -> dict[str, str]:
    consumer = kafka_consumer(settings, enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(CHECKPOINT_TOPIC, p)
            for p in consumer.partitions_for_topic(CHECKPOINT_TOPIC) or ()
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        since: dict[str, str] = {}
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            for records in consumer.poll(timeout_ms=1000).values():
                for record in records:
                    since[record.key.decode()] = record.value.decode()
        return since
    except KafkaError as exc:
        raise BrokerError(f"reading {CHECKPOINT_TOPIC} failed: {exc}") from None
    finally:
        consumer.close()
