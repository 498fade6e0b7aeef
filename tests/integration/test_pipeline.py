"""The live pipeline on a real broker emits what `aduan route` computes offline."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from agents.core.parse import parse_line
from agents.core.post import Post
from tests.integration.conftest import Worker

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "deploy" / "samples" / "mentions.jsonl"
RAW_TOPIC = "mentions.raw"
DEDUP_CHANGELOG = "aduan-decided-posts-changelog"

pytestmark = pytest.mark.integration

Message = tuple[str, str | None, bytes]
"""(topic, key, value as canonical JSON)."""


def aduan(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        ["aduan", *args], env=env, capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def route_offline(env: dict[str, str]) -> list[dict[str, Any]]:
    output = aduan(env, "route", "--input", str(SAMPLE))
    return [orjson.loads(line) for line in output.splitlines()]


def comparable(topic: str, key: str | None, value: dict[str, Any] | None) -> Message:
    """Dead letters say where they were read (a line offline, a Kafka offset live) and quote
    what they read (a page offline, one post of it live): compare the rest. A None value is a
    tombstone (a case merged into another)."""
    if topic == "mentions.dlq" and value is not None:
        value = {k: v for k, v in value.items() if k not in ("line", "source", "raw", "error")}
    return topic, key, orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def decoded(value: bytes | None) -> Any:
    return None if value is None else orjson.loads(value)


def from_the_start(consumer: KafkaConsumer, topics: list[str]) -> list[TopicPartition]:
    """Assign every partition of `topics` to `consumer`, at the first offset, without a group."""
    partitions = [
        TopicPartition(topic, partition)
        for topic in topics
        for partition in consumer.partitions_for_topic(topic)
    ]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    return partitions


def read_topics(broker: str, topics: list[str], expected: int) -> list[Message]:
    """Everything on `topics`, read without a consumer group, waiting up to 90 s for `expected`."""
    consumer = KafkaConsumer(bootstrap_servers=broker, enable_auto_commit=False)
    try:
        from_the_start(consumer, topics)
        found: list[Message] = []
        deadline = time.monotonic() + 90
        while len(found) < expected and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=500).items():
                for record in records:
                    key = None if record.key is None else record.key.decode()
                    found.append(comparable(tp.topic, key, decoded(record.value)))
        # Anything beyond `expected` would be a duplicate or a stray event: give it time to show.
        found += [
            comparable(tp.topic, None if r.key is None else r.key.decode(), decoded(r.value))
            for tp, records in consumer.poll(timeout_ms=2000).items()
            for r in records
        ]
        return found
    finally:
        consumer.close()


def records_until_end(broker: str, topics: list[str]) -> Iterator[ConsumerRecord]:
    """Every record on `topics` now, up to the end offsets."""
    consumer = KafkaConsumer(bootstrap_servers=broker, enable_auto_commit=False)
    try:
        partitions = from_the_start(consumer, topics)
        ends = consumer.end_offsets(partitions)
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            for records in consumer.poll(timeout_ms=500).values():
                yield from records
    finally:
        consumer.close()


def read_all(broker: str, topics: list[str]) -> list[Message]:
    """Everything on `topics` now, up to the end offsets."""
    return [
        comparable(r.topic, None if r.key is None else r.key.decode(), decoded(r.value))
        for r in records_until_end(broker, topics)
    ]


def test_live_pipeline_emits_what_route_computes(
    broker: str, aduan_env: dict[str, str], worker: Path
) -> None:
    expected = Counter(
        comparable(e["topic"], e["key"], e["value"]) for e in route_offline(aduan_env)
    )
    topics = sorted({topic for topic, _, _ in expected})
    assert {"mentions.rejected", "mentions.dlq", "complaints.unrouted"} <= set(topics)

    aduan(aduan_env, "topics", "create")
    aduan(aduan_env, "produce", "--file", str(SAMPLE))
    live = Counter(read_topics(broker, topics, sum(expected.values())))

    missing, extra = list((expected - live).elements()), list((live - expected).elements())
    assert live == expected, f"missing: {missing[:3]}; extra: {extra[:3]}"


def partitions_by_post(broker: str, topic: str) -> dict[str, set[int]]:
    """The partitions of `topic` each post id occurs in: read from the posts of `mentions.raw`,
    or from the keys (`[id, window]`) of the dedup table's changelog."""
    found: dict[str, set[int]] = {}
    for record in records_until_end(broker, [topic]):
        if topic == RAW_TOPIC:
            ids = [p.tweet_id for p in parse_line(record.value) if isinstance(p, Post)]
        else:
            ids = [orjson.loads(record.key)[0]]
        for tweet_id in ids:
            found.setdefault(tweet_id, set()).add(record.partition)
    return found


def test_a_post_is_remembered_in_the_partition_it_was_read_from(
    broker: str, aduan_env: dict[str, str], worker: Path
) -> None:
    """The worker routes posts in batches that mix partitions; the dedup table must still write
    each post to its own partition's changelog, or a worker taking over that partition after a
    rebalance would not know the post."""
    aduan(aduan_env, "topics", "create")
    aduan(aduan_env, "produce", "--file", str(SAMPLE))
    read = partitions_by_post(broker, RAW_TOPIC)
    deadline = time.monotonic() + 90
    remembered = partitions_by_post(broker, DEDUP_CHANGELOG)
    while not read.keys() <= remembered.keys() and time.monotonic() < deadline:
        time.sleep(1)
        remembered = partitions_by_post(broker, DEDUP_CHANGELOG)
    assert read.keys() <= remembered.keys()
    misplaced = {
        post: remembered[post] - read[post] for post in read if remembered[post] - read[post]
    }
    assert not misplaced, f"{len(misplaced)} posts remembered in another partition"


def test_subscriber_prints_its_agency_complaints(
    broker: str, aduan_env: dict[str, str], worker: Path
) -> None:
    offline = route_offline(aduan_env)
    mine = sorted(e["value"]["event_id"] for e in offline if e["topic"] == "complaints.bpk-jateng")
    aduan(aduan_env, "topics", "create")
    aduan(aduan_env, "produce", "--file", str(SAMPLE))
    output = aduan(
        aduan_env,
        "subscribe",
        "--agency",
        "bpk-jateng",
        "--from-beginning",
        "--max-events",
        str(len(mine)),
        "--idle-timeout",
        "60",
    )
    assert sorted(orjson.loads(line)["event_id"] for line in output.splitlines()) == mine


def test_a_post_sent_again_after_a_worker_restart_is_a_duplicate(
    broker: str, aduan_env: dict[str, str], worker_process: Worker, tmp_path: Path
) -> None:
    post = {
        "data": {
            "id": "1790000000000008001",
            "text": "@KejatiJateng tolong",
            "author_id": "16",
            "edit_history_tweet_ids": ["1790000000000008001"],
            "entities": {
                "mentions": [
                    {"start": 0, "end": 13, "username": "KejatiJateng", "id": "900000000000000201"}
                ]
            },
        },
        "includes": {
            "users": [
                {
                    "id": "16",
                    "name": "Warga",
                    "username": "warga16",
                    "verified": True,
                    "verified_type": "blue",
                }
            ]
        },
    }
    source = tmp_path / "post.jsonl"
    source.write_bytes(orjson.dumps(post) + b"\n")
    aduan(aduan_env, "produce", "--file", str(source))
    worker_process.stop()
    worker_process.start()
    aduan(aduan_env, "produce", "--file", str(source))

    deadline = time.monotonic() + 90
    rejected: list[dict[str, Any]] = []
    while not rejected and time.monotonic() < deadline:
        time.sleep(1)
        rejected = [
            orjson.loads(value)
            for _, key, value in read_all(broker, ["mentions.rejected"])
            if key == "1790000000000008001"
        ]
    routed = [key for _, key, _ in read_all(broker, ["complaints.kejati-jateng"])]
    assert routed.count("1790000000000008001") == 1
    assert [r["reason"] for r in rejected] == ["duplicate"]
