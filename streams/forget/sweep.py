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
from schemas.events import ForgetRequest
from schemas.topics import COMPLAINT_TOPIC_PREFIX, RAW_TOPIC
from streams.errors import BrokerError
from streams.kafka.admin import uncompacted
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
    """Erasures written again: their texts were still readable."""
    uncompacted: list[str] = field(default_factory=list)
    """Topics written to that are not compacted: there the erasures erase nothing."""
    chains: dict[str, ForgetRequest] = field(default_factory=dict)
    """The first posts of edit chains forgotten by a later revision's id, with that request:
    the chain is to be forgotten from its first post on."""


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
    for topic, partition, key, value in _read_everything(settings):
        place = (topic, partition, key)
        if topic == RAW_TOPIC:
            scan.mention(place, value)
        else:
            scan.complaint(place, value)
    swept.kept = scan.kept()
    # A text still readable after its erasure gets the erasure again: the append closes the
    # erasure's log segment if nothing else did, so the cleaner can take it
    # (docs/decisions/0033-forgetting-by-compaction.md). Once compacted, the text is not read.
    swept.again = len(scan.erased)
    pending = {**scan.erased, **scan.texts}
    _write(settings, pending, set(scan.erased), swept)
    swept.uncompacted = uncompacted(settings, sorted({topic for topic, _, _ in pending}))
    return swept


@dataclass(slots=True)
class _Scan:
    """What the messages read so far leave to erase."""

    forgotten: Forgotten
    swept: Swept
    texts: Pending = field(default_factory=dict)
    """Forgotten texts with no erasure after them yet: each gets one."""
    erased: Pending = field(default_factory=dict)
    """Forgotten texts already followed by an erasure, which Kafka has not compacted away yet."""
    shared: dict[Place, str] = field(default_factory=dict)
    """Keys made before keys named the post, under which a post that is not forgotten was read:
    a tombstone would erase it too. The request of a forgotten post under each."""

    def mention(self, place: Place, value: bytes | None) -> None:
        if value is None:
            self._erasure(place, None)
            return
        posts = [post for post in parse_line(value) if isinstance(post, Post)]
        requests = [self.forgotten.of_post(post) for post in posts]
        for post, request in zip(posts, requests, strict=True):
            if request is not None:
                self._edit_of(post.complaint_id, request)
        found = [request for request in requests if request is not None]
        alone = is_post_key(place[2])
        if not alone and (len(found) < len(posts) or place in self.shared):
            if found or place in self.texts:  # a kept post shares the key of a forgotten one
                self.shared[place] = request_key(found[0]) if found else self.texts[place][0]
            elif place not in self.shared:
                self.shared[place] = ""
            self.texts.pop(place, None)
            return
        if found:
            self._text(place, request_key(found[0]), None)

    def complaint(self, place: Place, value: bytes | None) -> None:
        try:
            event = orjson.loads(value or b"null")
        except orjson.JSONDecodeError:
            return
        if not isinstance(event, dict):
            return
        if "withdrawn_at" in event:
            self._erasure(place, value)
            return
        request = self.forgotten.of_complaint(event) if "complaint_id" in event else None
        if request is not None:
            self._edit_of(str(event["complaint_id"]), request)
            when = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            notice = orjson.dumps(withdrawal(event, request, when))
            self._text(place, request_key(request), notice)

    def kept(self) -> Counter[str]:
        """Forgotten posts' messages whose key other posts share, by request."""
        return Counter(request for request in self.shared.values() if request)

    def _edit_of(self, complaint_id: str, request: ForgetRequest) -> None:
        """A post forgotten by the id of a later revision: its edit chain is to be forgotten
        too, from the first post on."""
        if request["kind"] == "post" and complaint_id not in self.forgotten.posts:
            self.swept.chains.setdefault(complaint_id, request)

    def _text(self, place: Place, request: str, erasure: bytes | None) -> None:
        self.texts[place] = (request, erasure)
        self.erased.pop(place, None)

    def _erasure(self, place: Place, value: bytes | None) -> None:
        text = self.texts.pop(place, None)
        if text is not None:
            self.erased[place] = (text[0], value)


def _read_everything(settings: Settings) -> Iterator[tuple[str, int, bytes, bytes | None]]:
    """(topic, partition, key, value) of every keyed message of the text topics, from the first
    offset still kept to the end as of now, in offset order within each partition."""
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
                        yield message.topic, message.partition, message.key, message.value


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
