"""The agent routes a batch event by event: Faust's current event is the one being routed (the
dedup table writes by it), and the stream's own `current_event`, which Faust's batching reads to
fill the next batch, is left alone. The dedup table queues its changelog for the agent to send."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
import orjson
from faust.streams import _current_event
from prometheus_client import CollectorRegistry

from agents.registry import load_registry
from agents.route_mentions import DecidedPosts, Routing, install
from agents.route_metrics import RoutingMetrics
from agents.verify import VerificationPolicy
from streams.app import create_app
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Message:
    partition: int
    offset: int
    value: bytes
    topic: str = "mentions.raw"
    timestamp: float = 0.0


@dataclass(eq=False)
class Event:
    message: Message


class Producer:
    """Records each message sent, its partition if chosen, and which event Faust says is current
    when it is sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, int | None, tuple[int, int] | None]] = []

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        *,
        partition: int | None,
        timestamp: float | None,
        headers: None,
    ) -> asyncio.Future[None]:
        event = faust.current_event()
        current = None if event is None else (event.message.partition, event.message.offset)
        self.sent.append((topic, key, partition, current))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class Remembered(set[str]):
    """Stands in for the dedup table: each post id it is given becomes a changelog record in the
    current event's partition, for the agent to send."""

    changelog_topic = "decided-changelog"

    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[int, bytes, bytes | None]] = []

    def add(self, tweet_id: str) -> None:
        super().add(tweet_id)
        event = faust.current_event()
        assert event is not None
        self.records.append((event.message.partition, tweet_id.encode(), b"decided"))

    def take_changelog(self) -> list[tuple[int, bytes, bytes | None]]:
        records, self.records = self.records, []
        return records


class Batches:
    """Stands in for the agent's stream: two batches, and a `current_event` of its own."""

    def __init__(self, batches: list[list[Event]]) -> None:
        self.batches = batches
        self.current_event = Event(Message(9, 9, b""))

    async def take_events(self, max_: int, within: float) -> AsyncIterator[list[Event]]:
        for batch in self.batches:
            yield batch


def test_each_post_of_a_batch_is_routed_as_the_current_event(tmp_path: Path) -> None:
    app = create_app(Settings.from_env({"ADUAN_WORKER_DIR": str(tmp_path)}))
    registry = load_registry(ROOT / "deploy" / "agencies.yaml")
    remembered = Remembered()
    metrics = RoutingMetrics(CollectorRegistry())
    routing = Routing(VerificationPolicy(), remembered, registry, metrics)
    producer = Producer()
    app.producer = producer  # type: ignore[assignment]
    post: dict[str, Any] = {"data": {"id": "1", "text": "x", "author_id": "2"}}
    events = [
        Event(
            Message(
                partition,
                offset,
                orjson.dumps({**post, "data": {**post["data"], "id": str(offset)}}),
            )
        )
        for partition, offset in [(0, 10), (2, 11), (1, 12), (0, 13)]
    ]
    stream = Batches([events[:3], events[3:]])
    before = stream.current_event

    agent = install(app, routing, "mentions.raw", remembered)
    asyncio.run(agent.fun(stream))  # type: ignore[arg-type]

    # The author is not among the post's users: each post is rejected, keyed by its id, after
    # its dedup record went to its own partition's changelog.
    assert producer.sent == [
        sent
        for partition, offset in [(0, 10), (2, 11), (1, 12), (0, 13)]
        for sent in [
            ("decided-changelog", str(offset).encode(), partition, (partition, offset)),
            ("mentions.rejected", str(offset).encode(), None, (partition, offset)),
        ]
    ]
    assert stream.current_event is before


def test_the_dedup_table_queues_each_write_for_its_partition_not_through_faust(
    tmp_path: Path,
) -> None:
    app = create_app(Settings.from_env({"ADUAN_WORKER_DIR": str(tmp_path)}))
    decided = DecidedPosts(app, days=7)
    first = Event(Message(2, 40, b"", timestamp=1_700_000_000.0))
    later = Event(Message(1, 41, b"", timestamp=1_700_000_001.0))

    _current_event.set(weakref.ref(first))  # type: ignore[arg-type]
    decided.add("123")
    records = decided.take_changelog()
    _current_event.set(weakref.ref(later))  # type: ignore[arg-type]

    assert [(p, orjson.loads(k)[0], orjson.loads(v or b"")) for p, k, v in records] == [
        (2, "123", "2:40")
    ]
    assert decided.take_changelog() == []
    assert app.producer.buffer.size == 0  # Faust's own send path was not used
    assert decided.changelog_topic == "aduan-decided-posts-changelog"
    assert "123" in decided
    assert "124" not in decided
