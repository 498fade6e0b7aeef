"""Records sent as aiokafka batches, one a topic partition, instead of one `send` a record.

aiokafka's `send` makes a future and a queue check per record, and resolves each future when the
broker answers; batches built with `create_batch` and sent with `send_batch` cost a fraction of
that CPU a record (docs/decisions/0012-one-produce-batch-per-partition.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder


class Batches:
    """Records added, then sent together (`send`). A record without a partition goes where
    aiokafka's `send` would put it with its default partitioner (neither Faust nor the benchmark
    sets another): where its key hashes to, or to a random available partition if it has no key.

    `on_delivery` is called with each batch's future as soon as it is resolved: when Kafka has
    acknowledged the batch, or refused it (the future's exception)."""

    def __init__(
        self,
        producer: AIOKafkaProducer,
        on_delivery: Callable[[asyncio.Future[Any]], None] | None = None,
    ) -> None:
        self._producer = producer
        self._on_delivery = on_delivery
        self._partitioner = DefaultPartitioner()
        self._open: dict[tuple[str, int], BatchBuilder] = {}
        self._partitions: dict[str, tuple[list[int], list[int]]] = {}
        self._sent: list[asyncio.Future[Any]] = []

    async def add(
        self, topic: str, key: bytes | None, value: bytes | None, partition: int | None = None
    ) -> None:
        if partition is None:
            every, available = self._partitions.get(topic) or await self._partitions_of(topic)
            partition = self._partitioner(key, every, available)
        builder = self._open.get((topic, partition))
        if builder is None:
            builder = self._open[topic, partition] = self._producer.create_batch()
        if builder.append(timestamp=None, key=key, value=value) is None:  # full
            await self._send(topic, partition, self._open.pop((topic, partition)))
            await self.add(topic, key, value, partition)

    async def send(self) -> asyncio.Future[list[Any]]:
        """Send every batch not sent yet. The future is resolved when Kafka acknowledged every
        record added since the last call, or refused one (the future's exception)."""
        for (topic, partition), builder in self._open.items():
            await self._send(topic, partition, builder)
        sent, self._sent, self._open, self._partitions = self._sent, [], {}, {}
        return asyncio.gather(*sent)

    async def _send(self, topic: str, partition: int, builder: BatchBuilder) -> None:
        # send_batch waits while the partition still holds a batch not yet sent to the broker.
        sent = await self._producer.send_batch(builder, topic, partition=partition)
        if self._on_delivery is not None:
            # On the batch itself, not on `send`'s gathering of them: a refused batch leaves
            # aiokafka's set of batches that a flush waits for one loop turn after it is refused,
            # and each further future in between would give a commit one more turn to get ahead.
            sent.add_done_callback(self._on_delivery)
        self._sent.append(sent)

    async def _partitions_of(self, topic: str) -> tuple[list[int], list[int]]:
        """All its partitions (sorted, as the partitioner needs them) and those with a leader;
        looked up again after each `send`, so that partitions added or moved are seen."""
        every = sorted(await self._producer.partitions_for(topic))
        available = list(self._producer.client.cluster.available_partitions_for_topic(topic))
        self._partitions[topic] = every, available
        return every, available
