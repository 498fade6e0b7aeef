"""The sweep: reads every topic that holds post texts and writes what erases the forgotten ones.

In `mentions.raw` a forgotten post's message gets a tombstone with its key; in a complaint topic a
forgotten complaint gets a withdrawal with its key. Both topics are compacted, so once Kafka's
log cleaner has passed, the text is gone (docs/decisions/0033-forgetting-by-compaction.md). The
sweep is idempotent: a message already followed by its tombstone or withdrawal is left alone, so
it can run again whenever, and catches what arrived since.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from kafka import TopicPartition

from agents.core.forget import Forgotten, request_key, withdrawal
from agents.core.parse import parse_line
from agents.core.post import Post
from agents.core.split import is_post_key
from schemas.topics import COMPLAINT_TOPIC_PREFIX, RAW_TOPIC
from streams.errors import BrokerError
from streams.kafka.connection import kafka_consumer, kafka_errors, kafka_producer
from streams.settings import Settings

Place = tuple[str, int, bytes]
"""(topic, partition, key): a message Kafka compaction replaces by a later one of the same key."""


Pending = dict[Place, tuple[str, bytes | None]]
"""Each message to replace, with the key of the request that forgets it and the value that
replaces it (None: a tombstone)."""


@dataclass(slots=True)
class Swept:
    """What one sweep did, by request key."""

    erased: Counter[str] = field(default_factory=Counter)
    """Tombstones written to `mentions.raw`."""
    kept: Counter[str] = field(default_factory=Counter)
    """`mentions.raw` messages keyed by a whole thread (made before keys named the post): a
    tombstone would erase the thread, so they stay until their retention ends."""
    withdrawn: dict[str, list[str]] = field(default_factory=dict)
    """The topics a complaint was withdrawn from."""
    again: int = 0
    """Erasures written again: their texts were still there, the compaction lag past."""


def text_topics(topics: set[str]) -> list[str]:
    """The topics of `topics` that hold post texts: `mentions.raw` and every complaint topic,
    the shadow topics of replays included."""
    return sorted(
        name
        for name in topics
        if name == RAW_TOPIC
        or name.startswith(COMPLAINT_TOPIC_PREFIX)
        or f".{COMPLAINT_TOPIC_PREFIX}" in name
    )


def sweep(settings: Settings, forgotten: Forgotten) -> Swept:
    """Erase every message of `forgotten` still readable in the topics that hold texts."""
    swept = Swept()
    if not forgotten:
        return swept
    scan = _Scan(forgotten, swept)
    for topic, partition, key, value, timestamp in _read_everything(settings):
        place = (topic, partition, key)
        if topic == RAW_TOPIC:
            scan.mention(place, value, timestamp)
        else:
            scan.complaint(place, value, timestamp)
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    again = scan.settled(now_ms - settings.compaction_lag_ms)
    swept.again = len(again)
    _write(settings, {**again, **scan.texts}, set(again), swept)
    return swept


@dataclass(slots=True)
class _Scan:
    """What the messages read so far leave to erase."""

    forgotten: Forgotten
    swept: Swept
    texts: Pending = field(default_factory=dict)
    """Forgotten texts with no erasure after them yet: each gets one."""
    erased: dict[Place, tuple[str, bytes | None, int]] = field(default_factory=dict)
    """Forgotten texts already followed by an erasure, which Kafka has not compacted away yet:
    the erasure, and when it was written."""

    def mention(self, place: Place, value: bytes | None, timestamp: int) -> None:
        if value is None:
            self._erasure(place, None, timestamp)
            return
        for post in parse_line(value):
            request = self.forgotten.of_post(post) if isinstance(post, Post) else None
            if request is None:
                continue
            if is_post_key(place[2]):
                self._text(place, request_key(request), None)
            else:
                self.swept.kept[request_key(request)] += 1

    def complaint(self, place: Place, value: bytes | None, timestamp: int) -> None:
        try:
            event = orjson.loads(value or b"null")
        except orjson.JSONDecodeError:
            return
        if not isinstance(event, dict):
            return
        if "withdrawn_at" in event:
            self._erasure(place, value, timestamp)
            return
        request = self.forgotten.of_complaint(event) if "complaint_id" in event else None
        if request is not None:
            when = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            notice = orjson.dumps(withdrawal(event, request, when))
            self._text(place, request_key(request), notice)

    def _text(self, place: Place, request: str, erasure: bytes | None) -> None:
        self.texts[place] = (request, erasure)
        self.erased.pop(place, None)

    def _erasure(self, place: Place, value: bytes | None, timestamp: int) -> None:
        text = self.texts.pop(place, None)
        if text is not None:
            self.erased[place] = (text[0], value, timestamp)

    def settled(self, before_ms: int) -> Pending:
        """The erasures written before `before_ms` whose texts are still readable, to write
        again: such an erasure's log segment was never closed, as nothing reached the partition
        since, and an append closes it for the cleaner
        (docs/decisions/0033-forgetting-by-compaction.md)."""
        return {
            place: (request, value)
            for place, (request, value, timestamp) in self.erased.items()
            if timestamp < before_ms
        }


def _read_everything(settings: Settings) -> Iterator[tuple[str, int, bytes, bytes | None, int]]:
    """(topic, partition, key, value, timestamp) of every keyed message of the text topics, from
    the first offset still kept to the end as of now, in offset order within each partition."""
    consumer = kafka_consumer(settings, "aduan-forget-sweep", enable_auto_commit=False)
    with closing(consumer), kafka_errors("reading the topics that hold texts"):
        partitions = [
            TopicPartition(topic, partition)
            for topic in text_topics(consumer.topics())
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            return
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            for batch in consumer.poll(timeout_ms=1000).values():
                for message in batch:
                    if (
                        message.key is not None
                        and message.offset < ends[TopicPartition(message.topic, message.partition)]
                    ):
                        yield (
                            message.topic,
                            message.partition,
                            message.key,
                            message.value,
                            message.timestamp,
                        )


def _write(settings: Settings, pending: Pending, again: set[Place], swept: Swept) -> None:
    """Send each tombstone or withdrawal to the partition of the message it replaces; count
    those not written `again`."""
    if not pending:
        return
    producer = kafka_producer(settings, "aduan-forget-sweep")
    failures: list[BaseException] = []
    with closing(producer), kafka_errors("erasing forgotten messages"):
        for (topic, partition, key), (request, value) in pending.items():
            producer.send(topic, key=key, value=value, partition=partition).add_errback(
                failures.append
            )
            if (topic, partition, key) in again:
                continue
            if topic == RAW_TOPIC:
                swept.erased[request] += 1
            else:
                swept.withdrawn.setdefault(request, []).append(topic)
        producer.flush()
    if failures:
        raise BrokerError(
            f"{len(failures)} of {len(pending)} tombstones and withdrawals were not acknowledged; "
            f"first error: {failures[0]}. The requests are recorded: run `aduan forget --sweep` "
            "again to finish"
        ) from failures[0]
