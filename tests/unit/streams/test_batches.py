"""Records go into one aiokafka batch a topic partition, to the partition aiokafka's `send` would
choose, and a batch that fills up is sent at once."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from aiokafka.errors import KafkaTimeoutError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder

from streams.batches import Batches


class Producer:
    """Stands in for aiokafka's producer: real batch builders of `batch_size` bytes; each batch
    sent is kept, with its topic, partition and how many records it holds."""

    def __init__(
        self, batch_size: int = 1024 * 1024, available: frozenset[int] = frozenset({0, 1, 2})
    ) -> None:
        self.batch_size = batch_size
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

    async def partitions_for(self, topic: str) -> set[int]:
        self.lookups.append(topic)
        return {2, 0, 1}


def run(
    batches: Batches, records: list[tuple[str, bytes | None, int | None]]
) -> asyncio.Future[list[object]]:
    async def add_and_send() -> asyncio.Future[list[object]]:
        for topic, key, partition in records:
            await batches.add(topic, key, b"value", partition)
        return await batches.send()

    return asyncio.run(add_and_send())


def test_a_record_with_a_key_goes_where_aiokafka_s_send_puts_it() -> None:
    producer = Producer()
    keys = [str(number).encode() for number in range(20)]

    run(Batches(producer), [("complaints.x", key, None) for key in keys])  # type: ignore[arg-type]

    where = [DefaultPartitioner()(key, [0, 1, 2], [0, 1, 2]) for key in keys]
    assert sorted(producer.sent) == [
        ("complaints.x", p, where.count(p)) for p in sorted(set(where))
    ]
    assert len(set(where)) > 1


def test_a_record_with_a_partition_goes_to_it_and_one_without_a_key_to_an_available_one() -> None:
    producer = Producer(available=frozenset({1}))

    run(
        Batches(producer),
        [("changelog", b"k", 2), ("mentions.dlq", None, None), ("mentions.dlq", None, None)],
    )  # type: ignore[arg-type]

    assert producer.sent == [("changelog", 2, 1), ("mentions.dlq", 1, 2)]


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
