"""Records go into one aiokafka batch a topic partition, to the partition aiokafka's `send` would
choose, and a batch that fills up is sent at once."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaTimeoutError
from aiokafka.producer.message_accumulator import BatchBuilder

from streams.kafka.batches import Batches


class Producer:
    """Stands in for aiokafka's producer: real batch builders of `batch_size` bytes; each batch
    sent is kept, with its topic, partition and how many records it holds."""

    def __init__(
        self,
        batch_size: int = 1024 * 1024,
        available: frozenset[int] = frozenset({0, 1, 2}),
        partitions: list[int] | None = None,
    ) -> None:
        self.batch_size = batch_size
        self.partitions = partitions or [2, 0, 1]  # not sorted, as a set need not be
        self.sent: list[tuple[str, int, int]] = []
        self.deliveries: list[asyncio.Future[None]] = []
        self.lookups: list[str] = []
        self.client = SimpleNamespace(
            cluster=SimpleNamespace(available_partitions_for_topic=lambda topic: available)
        )

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(self.batch_size, 0)

    async def send_batch(
        self, batch: BatchBuilder, topic: str, *, partition: int
    ) -> asyncio.Future[None]:
        self.sent.append((topic, partition, batch.record_count()))
        delivery: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.deliveries.append(delivery)
        return delivery

    async def partitions_for(self, topic: str) -> list[int]:
        self.lookups.append(topic)
        return self.partitions


def run(
    batches: Batches, records: list[tuple[str, bytes | None, int | None]]
) -> asyncio.Future[list[object]]:
    async def add_and_send() -> asyncio.Future[list[object]]:
        for topic, key, partition in records:
            await batches.add(topic, key, b"value", partition)
        return await batches.send()

    return asyncio.run(add_and_send())


def test_a_record_with_a_key_goes_where_aiokafka_s_send_puts_it() -> None:
    """Against the partition aiokafka's own producer picks from the same metadata."""
    keys = [str(number).encode() for number in range(40)]

    async def scenario() -> tuple[list[tuple[str, int, int]], list[int]]:
        producer = Producer(partitions=[4, 0, 3, 1, 2])
        batches = Batches(producer)  # type: ignore[arg-type]
        for key in keys:
            await batches.add("complaints.x", key, b"value")
        await batches.send()
        aiokafka = AIOKafkaProducer(bootstrap_servers="localhost:1")  # never started
        aiokafka._metadata = SimpleNamespace(
            partitions_for_topic=lambda topic: {0, 1, 2, 3, 4},
            available_partitions_for_topic=lambda topic: {0, 1, 2, 3, 4},
        )
        where = [aiokafka._partition("complaints.x", None, None, None, key, None) for key in keys]
        await aiokafka.stop()
        return producer.sent, where

    sent, where = asyncio.run(scenario())

    assert sorted(sent) == [("complaints.x", p, where.count(p)) for p in sorted(set(where))]
    assert len(set(where)) > 2


def test_a_record_with_a_partition_goes_to_it_and_one_without_a_key_to_an_available_one() -> None:
    producer = Producer(available=frozenset({1}))

    run(Batches(producer), [("changelog", b"k", 2)] + [("mentions.dlq", None, None)] * 20)  # type: ignore[arg-type]

    assert producer.sent == [("changelog", 2, 1), ("mentions.dlq", 1, 20)]


def test_a_full_batch_is_sent_at_once_and_the_rest_on_send() -> None:
    producer = Producer(batch_size=200)  # room for two records of these
    batches = Batches(producer)  # type: ignore[arg-type]

    run(batches, [("changelog", b"k" * 50, 0)] * 5)

    assert producer.sent == [("changelog", 0, 2), ("changelog", 0, 2), ("changelog", 0, 1)]


def test_send_resolves_once_every_batch_is_acknowledged_or_one_is_refused() -> None:
    async def scenario() -> tuple[bool, bool, BaseException | None]:
        producer = Producer()
        batches = Batches(producer)  # type: ignore[arg-type]
        await batches.add("a", None, b"1", 0)
        await batches.add("b", None, b"2", 0)
        sent = await batches.send()
        producer.deliveries[0].set_result(None)
        await asyncio.sleep(0)
        after_one = sent.done()
        producer.deliveries[1].set_exception(KafkaTimeoutError())
        await asyncio.sleep(0)
        return after_one, sent.done(), sent.exception()

    after_one, done, refused = asyncio.run(scenario())

    assert not after_one
    assert done and isinstance(refused, KafkaTimeoutError)


def test_partitions_are_looked_up_once_a_topic_until_the_next_send() -> None:
    producer = Producer()
    batches = Batches(producer)  # type: ignore[arg-type]

    run(batches, [("a", b"1", None), ("a", b"2", None), ("b", b"3", None)])
    run(batches, [("a", b"4", None)])

    assert producer.lookups == ["a", "b", "a"]


def test_nothing_added_sends_nothing_and_is_acknowledged_at_once() -> None:
    producer = Producer()

    sent = run(Batches(producer), [])  # type: ignore[arg-type]

    assert producer.sent == []
    assert sent.result() == []


def test_each_batch_is_reported_as_soon_as_it_is_resolved() -> None:
    """Each batch on its own, also one sent when it filled up, not once all of them are."""

    async def scenario() -> tuple[list[type[BaseException] | None], bool]:
        producer = Producer(batch_size=200)
        reported: list[type[BaseException] | None] = []

        def report(batch: asyncio.Future[None]) -> None:
            error = batch.exception()
            reported.append(None if error is None else type(error))

        batches = Batches(producer, on_delivery=report)  # type: ignore[arg-type]
        for _ in range(3):
            await batches.add("changelog", b"k" * 50, b"value", 0)  # the third fills the first
        await batches.add("other", None, b"value", 0)
        sent = await batches.send()
        producer.deliveries[0].set_result(None)
        await asyncio.sleep(0)  # one loop turn: the batch's own callbacks
        first_only = sent.done()
        producer.deliveries[2].set_exception(KafkaTimeoutError())
        await asyncio.sleep(0)
        return reported, first_only

    reported, done_after_the_first = asyncio.run(scenario())

    assert reported == [None, KafkaTimeoutError]
    assert not done_after_the_first
