"""The post and user ids aduan holds in `mentions.raw`: what an X compliance job must check."""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, field

from kafka import TopicPartition

from agents.core.parse import parse_line
from agents.core.post import Post
from agents.core.registry import load_registry
from schemas.topics import RAW_TOPIC
from streams.kafka.admin import offsets_at
from streams.kafka.connection import kafka_consumer, kafka_errors
from streams.kafka.registry_topic import latest_published
from streams.settings import Settings


@dataclass(slots=True)
class StoredIds:
    posts: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)
    """The authors of the posts."""


def stored_ids(settings: Settings, since_ms: int | None = None) -> StoredIds:
    """The ids of every post in `mentions.raw` written at or after `since_ms` (all when None),
    and of their authors; a post already erased (its tombstone read) is not counted."""
    by_key: dict[tuple[int, bytes | None], list[Post]] = {}
    consumer = kafka_consumer(settings, "aduan-stored-ids", enable_auto_commit=False)
    with closing(consumer), kafka_errors(f"reading {RAW_TOPIC}"):
        partitions = [
            TopicPartition(RAW_TOPIC, p) for p in consumer.partitions_for_topic(RAW_TOPIC) or ()
        ]
        if not partitions:
            return StoredIds()
        consumer.assign(partitions)
        ends = consumer.end_offsets(partitions)
        starts = consumer.beginning_offsets(partitions)
        if since_ms is not None:
            found = offsets_at(consumer, partitions, since_ms)
            starts = {tp: ends[tp] if found[tp] is None else found[tp] for tp in partitions}
        for tp in partitions:
            consumer.seek(tp, starts[tp])
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            for tp, batch in consumer.poll(timeout_ms=1000).items():
                for message in batch:
                    if message.offset >= ends[tp]:
                        continue
                    place = (message.partition, message.key)
                    if message.value is None:
                        by_key.pop(place, None)
                    else:
                        posts = [p for p in parse_line(message.value) if isinstance(p, Post)]
                        by_key.setdefault(place, []).extend(posts)
    stored = StoredIds()
    for posts in by_key.values():
        for post in posts:
            stored.posts.add(post.tweet_id)
            if post.author_id:
                stored.users.add(post.author_id)
    return stored


def agency_accounts(settings: Settings) -> set[str]:
    """The user ids of the agencies' accounts, in the registry in force."""
    published, _ = latest_published(settings)
    registry = published or load_registry(settings.registry_file())
    return set(registry.agency_by_account_id)
