"""The agency registry as a compacted Kafka topic, so that running workers pick up a change
without a restart.

`aduan agencies sync` validates the file and publishes its text; every worker and X producer
reads the topic (without a consumer group, so that each one sees every version) and swaps in each
valid version: the worker with aiokafka (`follow`), the producer with kafka-python
(`RegistryFollower`). An invalid version on the topic is logged and skipped: the reader keeps the
last good one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from contextlib import closing
from pathlib import Path
from typing import Any

import kafka

from agents.core.errors import RegistryError
from agents.core.registry import Registry, parse_registry, read_registry
from schemas.topics import REGISTRY_TOPIC
from streams.kafka.admin import create_topics, follow_partition, read_to_end
from streams.kafka.connection import (
    Connection,
    kafka_consumer,
    kafka_errors,
    kafka_producer,
)
from streams.settings import Settings

log = logging.getLogger(__name__)

_KEY = b"registry"


def publish(settings: Settings, path: Path) -> Registry:
    """Validate `path`, create its agencies' topics, and publish it; raises on an invalid file."""
    # The text validated is the text published, even if the file changes meanwhile.
    registry, text = read_registry(path)
    create_topics(settings, registry)
    producer = kafka_producer(settings, "aduan-registry-publisher")
    with closing(producer), kafka_errors("publishing the registry"):
        producer.send(REGISTRY_TOPIC, key=_KEY, value=text.encode()).get(timeout=30)
    return registry


def latest_published(settings: Settings) -> tuple[Registry | None, int]:
    """The newest valid registry on the topic (None if there is none) and the offset to follow
    from."""
    records, ends = read_to_end(settings, REGISTRY_TOPIC)
    return newest_valid(records), ends.get(0, 0)


def newest_valid(records: Iterable[Any]) -> Registry | None:
    """The newest valid registry of the topic's `records`, read in order; None if none is."""
    registry = None
    for record in records:
        registry = _parse(record.value, record.offset) or registry
    return registry


async def follow(
    settings: Settings, offset: int, apply: Callable[[Registry], Awaitable[None]]
) -> None:
    """Call `apply` with every valid registry published from `offset` on; runs until cancelled."""
    async for record in follow_partition(
        settings, REGISTRY_TOPIC, offset, "aduan-registry-follower"
    ):
        registry = _parse(record.value, record.offset)
        if registry is not None:
            await apply(registry)


def registry_in_force(settings: Settings, fallback: Registry) -> tuple[Registry, int]:
    """The newest valid published registry, or `fallback` where none was published yet, and the
    offset to follow from: what a worker routes with, so what the producer fetches for."""
    published, offset = latest_published(settings)
    if published is not None and published.version != fallback.version:
        log.info("using registry %s as published to %s", published.version, REGISTRY_TOPIC)
        return published, offset
    return fallback, offset


class RegistryFollower:
    """Published registry versions from `offset` on, for the synchronous producer."""

    def __init__(self, settings: Settings, offset: int) -> None:
        self.user = Connection.of(settings).user
        # A missing topic must not come back made with the broker's defaults: not compacted.
        self.consumer = kafka_consumer(
            settings,
            "aduan-registry-follower",
            enable_auto_commit=False,
            allow_auto_create_topics=False,
        )
        partition = kafka.TopicPartition(REGISTRY_TOPIC, 0)
        self.consumer.assign([partition])
        self.consumer.seek(partition, offset)

    def wait(self, seconds: float) -> Registry | None:
        """Wait `seconds`; the newest valid version published meanwhile, or None."""
        newest = None
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            refused = (
                f"{self.user} may not read {REGISTRY_TOPIC}, which the X producer follows; "
                "give it the right with `aduan services grant producer` (as admin)"
            )
            with kafka_errors(f"following {REGISTRY_TOPIC}", refused=refused):
                batches = self.consumer.poll(timeout_ms=max(1, int(left * 1000)))
            for records in batches.values():
                for record in records:
                    newest = _parse(record.value, record.offset) or newest
        if newest is not None:
            log.info("following registry %s: %d agencies", newest.version, len(newest.agencies))
        return newest

    def close(self) -> None:
        self.consumer.close()


def _parse(value: bytes | None, offset: int) -> Registry | None:
    try:
        return parse_registry((value or b"").decode("utf-8"), f"{REGISTRY_TOPIC}@{offset}")
    except (RegistryError, UnicodeDecodeError) as exc:
        log.error("ignoring an invalid registry; keeping the last good one: %s", exc)
        return None
