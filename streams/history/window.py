"""Reading a time window of topics, for replays, diffs and reports.

Partitions are assigned, never subscribed, and no consumer group is used: the live worker and
its committed offsets are untouched. Offsets are found by time and the records read with
aiokafka, whose C record decoder reads them faster than kafka-python does
(docs/decisions/0028-replay-without-a-consumer-group.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka import TopicPartition as AioPartition

from agents.core.errors import ConfigError
from streams.errors import BrokerError
from streams.kafka.admin import partitions_of
from streams.kafka.connection import aiokafka_consumer, hidden_hint, kafka_errors, started_consumer
from streams.settings import Settings

HISTORY_CLIENT = "aduan-history"
"""The client id of every history read."""


@dataclass(frozen=True, slots=True)
class Window:
    """Kafka timestamps from `since` (included) to `until` (excluded; None: up to now)."""

    since: datetime
    until: datetime | None = None

    def __post_init__(self) -> None:
        if self.until is not None and self.until <= self.since:
            raise ConfigError(
                f"--until {self.until.isoformat()} is not after --since {self.since.isoformat()}"
            )

    @property
    def since_ms(self) -> int:
        return int(self.since.timestamp() * 1000)

    @property
    def until_ms(self) -> int | None:
        return None if self.until is None else int(self.until.timestamp() * 1000)

    def holds(self, timestamp_ms: int) -> bool:
        until = self.until_ms
        return self.since_ms <= timestamp_ms and (until is None or timestamp_ms < until)


@dataclass(frozen=True, slots=True)
class Span:
    """Offsets `start` (included) to `end` (excluded) of one partition."""

    topic: str
    partition: int
    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Chunk:
    """Records of one span read in one fetch, those in the window only, and the offset that
    the next fetch of the span starts from."""

    span: Span
    records: list[Any]
    next_offset: int


def find_spans(settings: Settings, topics: Sequence[str], window: Window) -> list[Span]:
    """Each partition's offsets of `window`, by Kafka's time index (offsets_for_times)."""

    async def find() -> list[Span]:
        async with started_consumer(
            settings, HISTORY_CLIENT, enable_auto_commit=False, group_id=None
        ) as consumer:
            return await spans_of(consumer, settings, topics, window)

    return asyncio.run(find())


async def spans_of(
    consumer: AIOKafkaConsumer, settings: Settings, topics: Sequence[str], window: Window
) -> list[Span]:
    """`find_spans` with a started consumer, which it assigns."""
    with kafka_errors(f"finding the offsets of {', '.join(topics)}"):
        found = await partitions_of(consumer, topics)
        for topic in topics:
            if not found.get(topic):
                raise BrokerError(
                    f"there is no topic {topic} on {','.join(settings.bootstrap_servers)}"
                    f"{hidden_hint(settings)}; aduan topics create makes the pipeline's topics"
                )
        partitions = [AioPartition(topic, p) for topic in topics for p in found[topic]]
        ends = await consumer.end_offsets(partitions)
        starts = await _offsets_at(consumer, partitions, window.since_ms, ends)
        until = window.until_ms
        stops = ends if until is None else await _offsets_at(consumer, partitions, until, ends)
    return [Span(tp.topic, tp.partition, starts[tp], stops[tp]) for tp in partitions]


async def _offsets_at(
    consumer: AIOKafkaConsumer, partitions: list[Any], stamp: int, ends: dict[Any, int]
) -> dict[Any, int]:
    """The first offset at or after `stamp` in each partition; the end when there is none."""
    found = await consumer.offsets_for_times(dict.fromkeys(partitions, stamp))
    return {tp: ends[tp] if (at := found.get(tp)) is None else at.offset for tp in partitions}


async def read_spans(
    settings: Settings, spans: Sequence[Span], window: Window
) -> AsyncIterator[Chunk]:
    """The records of `spans` whose timestamp is in `window`, in offset order per partition."""
    remaining = {AioPartition(s.topic, s.partition): s for s in spans if s.size > 0}
    if not remaining:
        return
    consumer = aiokafka_consumer(
        settings,
        HISTORY_CLIENT,
        enable_auto_commit=False,
        group_id=None,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    try:
        with kafka_errors(f"reading {spans[0].topic}"):
            await consumer.start()
            consumer.assign(list(remaining))
            for tp, span in remaining.items():
                consumer.seek(tp, span.start)
            while remaining:
                fetched = await consumer.getmany(timeout_ms=1000, max_records=5000)
                for tp, records in fetched.items():
                    if tp not in remaining:
                        continue
                    end = remaining[tp].end
                    kept = [r for r in records if r.offset < end and window.holds(r.timestamp)]
                    yield Chunk(remaining[tp], kept, min(records[-1].offset + 1, end))
                for tp, span in list(remaining.items()):
                    if await consumer.position(tp) >= span.end:
                        consumer.pause(tp)
                        del remaining[tp]
    finally:
        await consumer.stop()
