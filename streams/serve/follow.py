"""Keeps a `View` up with the topics: a kafka-python consumer on a thread of its own, without a
consumer group (every instance reads everything), from the offsets stored with the view."""

from __future__ import annotations

import logging
import threading
import time
from contextlib import closing

from kafka import KafkaConsumer, TopicPartition

from streams.kafka.connection import kafka_consumer, kafka_errors
from streams.serve.view import Record, View, is_view_topic
from streams.settings import Settings

log = logging.getLogger(__name__)

TOPICS_EVERY = 30.0
"""Seconds between two looks for new agencies' topics."""


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
            self._follow()
        except BaseException as exc:  # reported by /readyz and the log; the thread ends
            self.error = exc
            log.exception("the view stopped following the topics")

    def _follow(self) -> None:
        consumer = kafka_consumer(
            self.settings,
            "aduan-serve",
            enable_auto_commit=False,
            max_poll_records=5000,
            fetch_max_bytes=16 * 1024 * 1024,
        )
        with closing(consumer), closing(self.view.writer()) as db:
            assigned: set[TopicPartition] = set()
            targets: dict[TopicPartition, int] = {}
            looked = 0.0
            while not self._stop.is_set():
                if time.monotonic() - looked >= TOPICS_EVERY:
                    added = self._assign(consumer, assigned)
                    if not self._caught_up.is_set() and added:
                        with kafka_errors("reading the end offsets of the view's topics"):
                            targets.update(consumer.end_offsets(list(added)))
                    looked = time.monotonic()
                with kafka_errors("reading the view's topics"):
                    batches = consumer.poll(timeout_ms=200)
                for records in batches.values():
                    self.view.apply(
                        db,
                        (
                            Record(r.topic, r.partition, r.offset, r.key, r.value, r.timestamp)
                            for r in records
                        ),
                    )
                if not self._caught_up.is_set() and all(
                    consumer.position(tp) >= end for tp, end in targets.items()
                ):
                    log.info("the view has caught up: %d cases", self.view.count())
                    self._caught_up.set()

    def _assign(
        self, consumer: KafkaConsumer, assigned: set[TopicPartition]
    ) -> set[TopicPartition]:
        """Assign the view's topics' partitions not assigned yet, each from the view's offset
        (kafka-python keeps the positions of those assigned before); the partitions added."""
        with kafka_errors("listing the view's topics"):
            topics = [topic for topic in consumer.topics() if is_view_topic(topic)]
            partitions = {
                TopicPartition(topic, partition)
                for topic in topics
                for partition in consumer.partitions_for_topic(topic) or ()
            }
        added = partitions - assigned
        if not added:
            return added
        assigned |= added
        consumer.assign(list(assigned))
        stored = self.view.positions()
        for tp in added:
            at = stored.get((tp.topic, tp.partition))
            if at is None:
                consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, at)
        return added
