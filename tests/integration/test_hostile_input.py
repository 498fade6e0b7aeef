"""A worker over a `mentions.raw` full of garbage among good posts: random bytes, JSON nested past
any parser's limit, a 900 kB text, lone surrogates, and a wrong type in every field of a post.
The worker must stay up, turn every unreadable message into a dead letter and route the rest
exactly as `aduan route` does."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer

from agents.core.registry import load_registry
from agents.core.split import split_line
from streams.kafka.connection import ThreadPartitioner
from tests.integration.conftest import Worker, running_broker
from tests.integration.test_pipeline import comparable, read_all
from tests.integration.test_replay import REGISTRY, output_topics, route, synthetic

pytestmark = pytest.mark.integration


@pytest.fixture
def broker(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[str]:
    """A broker of its own: the test compares every event on the topics."""
    with running_broker(tmp_path_factory, pytestconfig) as address:
        yield address


WRONG = (12345, 1.5, True, None, [], {}, "", "not-a-number", [1, 2], {"a": 1})


def unreadable(rng: random.Random) -> Iterator[bytes]:
    """Messages no parser can read as a post."""
    for _ in range(40):
        yield bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000)))
    yield b"[" * 5000 + b"]" * 5000
    yield b'{"data": ' * 3000 + b"{}" + b"}" * 3000
    yield b'{"data": {"id": "1", "text": "\\ud800 lone surrogate", "author_id": "2"}}'
    yield b'{"data": {"id": "1", "text": "\xed\xa0\x80 encoded surrogate"}}'


def wrong_types(message: dict[str, Any], rng: random.Random) -> Iterator[bytes]:
    """`message` with one field of its post, or of its author, of a wrong type at a time."""
    for field in list(message["data"]):
        broken = orjson.loads(orjson.dumps(message))
        broken["data"][field] = rng.choice(WRONG)
        yield orjson.dumps(broken)
    for field in list(message["includes"]["users"][0]):
        broken = orjson.loads(orjson.dumps(message))
        broken["includes"]["users"][0][field] = rng.choice(WRONG)
        yield orjson.dumps(broken)


def test_the_worker_survives_garbage_and_routes_what_route_computes(
    aduan_env: dict[str, str], worker_process: Worker, tmp_path: Path
) -> None:
    rng = random.Random(606)
    # Keyed and partitioned as `aduan produce` sends them: the worker's memory of a post id
    # lives in its partition, so copies of a post must share one.
    good = synthetic(aduan_env, 200, 606)
    sample = orjson.loads(good[0][1])
    huge = orjson.loads(good[1][1])
    huge["data"]["text"] = "@humasjateng " + "jalan rusak " * 75_000  # about 900 kB
    huge_id = "1785459115422658617"  # its own post, not a copy of the one it was made from
    huge["data"].update(id=huge_id, conversation_id=huge_id, edit_history_tweet_ids=[huge_id])
    bad = [split_line(value)[0] for value in [*unreadable(rng), *wrong_types(sample, rng)]]
    messages = [*good, *bad, (f"{huge_id}/{huge_id}".encode(), orjson.dumps(huge))]
    rng.shuffle(messages)

    producer = KafkaProducer(
        bootstrap_servers=aduan_env["ADUAN_BROKER"],
        acks="all",
        max_request_size=2**20,
        partitioner=ThreadPartitioner(),
    )
    for key, value in messages:
        producer.send("mentions.raw", key=key, value=value)
    producer.flush()
    producer.close()

    registry = load_registry(REGISTRY)
    expected = [comparable(*emit) for emit in route(registry, messages)]
    dead = route(registry, [(None, m) for m in unreadable(random.Random(606))])
    assert all(topic == "mentions.dlq" for topic, _, _ in dead)  # the premise holds

    topics = output_topics(aduan_env, registry)
    deadline = time.monotonic() + 120
    found = read_all(aduan_env["ADUAN_BROKER"], topics)
    while len(found) < len(expected) and time.monotonic() < deadline:
        time.sleep(2)
        found = read_all(aduan_env["ADUAN_BROKER"], topics)
    assert sorted(found) == sorted(expected)
    assert worker_process.process is not None and worker_process.process.poll() is None
