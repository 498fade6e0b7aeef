"""The agency registry as a compacted Kafka topic, so that running workers pick up a change
without a restart.

`aduan agencies sync` validates the file and publishes its text; every worker reads the topic
(without a consumer group, so that each one sees every version) and swaps in each valid version.
An invalid version on the topic is logged and skipped: the worker keeps the last good one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from agents.errors import RegistryError
from agents.registry import Registry, parse_registry, read_registry
from streams.producer import kafka_producer
from streams.settings import Settings
from streams.topics import REGISTRY_TOPIC, BrokerError, create_topics, read_to_end

log = logging.getLogger(__name__)

_KEY = b"registry"


def publish(settings: Settings, path: Path) -> Registry:
    """Validate `path`, create its agencies' topics, and publish it; raises on an invalid file."""
    # The text validated is the text published, even if the file changes meanwhile.
    registry, text = read_registry(path)
    create_topics(settings, registry)
    producer = kafka_producer(settings)
    try:
        producer.send(REGISTRY_TOPIC, key=_KEY, value=text.encode()).get(timeout=30)
    except KafkaError as exc:
        raise BrokerError(f"publishing the registry failed: {exc}") from None
    finally:
        producer.close()
    return registry


def latest_published(settings: Settings) -> tuple[Registry | None, int]:
    """The newest valid registry on the topic (None if there is none) and the offset to follow
    from."""
    records, ends = read_to_end(settings, REGISTRY_TOPIC)
    registry = None
    for record in records:
        registry = _parse(record.value, record.offset) or registry
    return registry, ends.get(0, 0)


async def follow(
    settings: Settings, offset: int, apply: Callable[[Registry], Awaitable[None]]
) -> None:
    """Call `apply` with every valid registry published from `offset` on; runs until cancelled."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=",".join(settings.bootstrap_servers),
        enable_auto_commit=False,
        **settings.kafka_login,
    )
    partition = TopicPartition(REGISTRY_TOPIC, 0)
    await consumer.start()
    try:
        consumer.assign([partition])
        consumer.seek(partition, offset)
        async for record in consumer:
            registry = _parse(record.value, record.offset)
            if registry is not None:
                await apply(registry)
    finally:
        await consumer.stop()


def _parse(value: bytes | None, offset: int) -> Registry | None:
    try:
        return parse_registry((value or b"").decode("utf-8"), f"{REGISTRY_TOPIC}@{offset}")
    except (RegistryError, UnicodeDecodeError) as exc:
        log.error("ignoring an invalid registry; keeping the last good one: %s", exc)
        return None
