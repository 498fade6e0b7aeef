"""Keeps a `View` up with the topics: an aiokafka consumer on a thread and event loop of its own,
without a consumer group (every instance reads everything), from the offsets stored with the
view. aiokafka parses records and checks their CRCs in C, where kafka-python does both in
Python; a kafka-python client lists the topics and their partitions, which aiokafka has no
public call for."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from contextlib import closing

from aiokafka import AIOKafkaConsumer
from aiokafka import TopicPartition as Partition
from kafka import KafkaConsumer

from streams.kafka.connection import aiokafka_consumer, kafka_consumer, kafka_errors
from streams.serve.view import Record, View, is_view_topic
from streams.settings import Settings

log = logging.getLogger(__name__)

TOPICS_EVERY = 30.0
"""Seconds between two looks for new agencies' topics."""

BATCH = 10_000
"""Records applied at most in one transaction."""


class Follower:
    """Reads the view's topics into it until `stop`. `ready` once it has read everything that was
    on them when it started."""

    def __init__(self, settings: Settings, view: View) -> None:
        self.settings = settings
        self.view = view
        self._stop = threading.Event()
        self._caught_up = threading.Event()
        self._thread = threading.Thread(target=self._run, name="aduan-serve-follower", daemon=True)
        self.error: BaseException | None = None

    @property
    def ready(self) -> bool:
        return self._caught_up.is_set() and self.error is None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def wait_ready(self, timeout: float) -> bool:
        return self._caught_up.wait(timeout)

    def _run(self) -> None:
        try:
            asyncio.run(self._follow())
        except BaseException as exc:  # reported by /readyz and the log; the thread ends
            self.error = exc
            log.exception("the view stopped following the topics")

    async def _follow(self) -> None:
        lister = kafka_consumer(self.settings, "aduan-serve-topics")
        consumer = aiokafka_consumer(
            self.settings,
            "aduan-serve",
            enable_auto_commit=False,
            auto_offset_reset="earliest",  # a stored offset the retention passed: what is left
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        with closing(lister), closing(self.view.writer()) as db:
            with kafka_errors("reaching the cluster to read the view's topics"):
                await consumer.start()
            try:
                await self._apply(lister, consumer, db)
            finally:
                await consumer.stop()

    async def _apply(
        self, lister: KafkaConsumer, consumer: AIOKafkaConsumer, db: sqlite3.Connection
    ) -> None:
        assigned: set[Partition] = set()
        targets: dict[Partition, int] = {}
        looked = 0.0
        while not self._stop.is_set():
            if time.monotonic() - looked >= TOPICS_EVERY:
                added = await self._assign(lister, consumer, assigned, db)
                if not self._caught_up.is_set() and added:
                    with kafka_errors("reading the end offsets of the view's topics"):
                        targets.update(await consumer.end_offsets(list(added)))
                looked = time.monotonic()
            if not assigned:
                await asyncio.sleep(0.2)
                continue
            with kafka_errors("reading the view's topics"):
                batches = await consumer.getmany(timeout_ms=200, max_records=BATCH)
            records = [
                Record(r.topic, r.partition, r.offset, r.key, r.value, r.timestamp)
                for batch in batches.values()
                for r in batch
            ]
            if records:
                # On a thread of its own, so that aiokafka fetches the next records meanwhile.
                await asyncio.to_thread(self.view.apply, db, records)
            if not self._caught_up.is_set() and await _reached(consumer, targets):
                log.info("the view has caught up: %d cases", self.view.count())
                self._caught_up.set()

    async def _assign(
        self,
        lister: KafkaConsumer,
        consumer: AIOKafkaConsumer,
        assigned: set[Partition],
        db: sqlite3.Connection,
    ) -> set[Partition]:
        """Assign the view's topics' partitions not assigned yet; the partitions added. Each
        partition is read on from the view's offset, as aiokafka forgets every position when
        the assignment changes, and the view has applied every record fetched. A view whose
        offset the retention has passed is built again: it may have missed a withdrawal."""
        with kafka_errors("listing the view's topics"):
            topics = [topic for topic in lister.topics() if is_view_topic(topic)]
            partitions = {
                Partition(topic, partition)
                for topic in topics
                for partition in lister.partitions_for_topic(topic) or ()
            }
        added = partitions - assigned
        if not added:
            return added
        assigned |= added
        consumer.assign(list(assigned))
        stored = self.view.positions()
        if await _passed(
            consumer, [tp for tp in added if (tp.topic, tp.partition) in stored], stored
        ):
            log.warning(
                "the topics no longer hold what the view would read next (their retention passed "
                "it while this instance was stopped): building the view again from the topics"
            )
            await asyncio.to_thread(self.view.clear, db)
            stored = {}
        unread = [tp for tp in assigned if (tp.topic, tp.partition) not in stored]
        for tp in assigned - set(unread):
            consumer.seek(tp, stored[tp.topic, tp.partition])
        if unread:
            with kafka_errors("finding where the view's topics begin"):
                await consumer.seek_to_beginning(*unread)
        return added


async def _passed(
    consumer: AIOKafkaConsumer, partitions: list[Partition], stored: dict[tuple[str, int], int]
) -> bool:
    """Whether any of `partitions` now begins after the offset the view would read next."""
    if not partitions:
        return False
    with kafka_errors("finding where the view's topics begin"):
        starts = await consumer.beginning_offsets(partitions)
    return any(stored[tp.topic, tp.partition] < start for tp, start in starts.items())


async def _reached(consumer: AIOKafkaConsumer, targets: dict[Partition, int]) -> bool:
    """Whether the consumer has read each partition in `targets` up to its offset there."""
    with kafka_errors("reading the view's positions"):
        for tp, end in targets.items():
            if await consumer.position(tp) < end:
                return False
    return True
