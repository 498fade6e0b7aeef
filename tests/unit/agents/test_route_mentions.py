"""The agent routes a batch event by event: Faust's current event is the one being routed (the
dedup table writes by it), and the stream's own `current_event`, which Faust's batching reads to
fill the next batch, is left alone. The dedup table queues its changelog for the agent to send."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faust
import orjson
import pytest
from aiokafka.errors import KafkaTimeoutError
from aiokafka.partitioner import DefaultPartitioner
from faust.serializers import codecs
from faust.streams import _current_event
from prometheus_client import CollectorRegistry

from agents.case_threads import CaseThreads
from agents.core.cases import CaseBook, CasePost
from agents.core.forget import Forgotten, forget_request
from agents.core.registry import load_registry
from agents.core.verify import VerificationPolicy
from agents.core.workdays import WorkCalendar
from agents.route_mentions import DecidedPosts, Routing, add_route_mentions, tell_overdue
from agents.route_metrics import RoutingMetrics
from streams.settings import Settings
from streams.worker.app import create_app
from tests.unit.agents.factories import (
    CITIZEN_ID,
    KEJATI_HANDLE,
    KEJATI_ID,
    build_registry,
    make_post,
    stream_line,
)

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Message:
    partition: int
    offset: int
    value: bytes | None
    topic: str = "mentions.raw"
    timestamp: float = 0.0


@dataclass(eq=False)
class Event:
    message: Message


def new_app(tmp_path: Path) -> faust.App:
    return create_app(Settings.from_env({"ADUAN_WORKER_DIR": str(tmp_path)}))


class Builder:
    """Stands in for aiokafka's batch builder: keeps the records appended to it."""

    def __init__(self) -> None:
        self.keys: list[bytes | None] = []

    def append(self, *, timestamp: None, key: bytes | None, value: bytes | None) -> object:
        self.keys.append(key)
        return object()


class AiokafkaProducer:
    """Stands in for the aiokafka producer under Faust's: records each batch sent, with its topic,
    partition and keys. Its batches are acknowledged at once unless `pending`; `refusing` makes
    `send_batch` raise it."""

    client = SimpleNamespace(
        cluster=SimpleNamespace(available_partitions_for_topic=lambda topic: {0, 1, 2})
    )

    def __init__(self, pending: bool = False, refusing: Exception | None = None) -> None:
        self.pending = pending
        self.refusing = refusing
        self.sent: list[tuple[str, int, list[bytes | None]]] = []
        self.deliveries: list[asyncio.Future[None]] = []

    def create_batch(self) -> Builder:
        return Builder()

    async def send_batch(
        self, batch: Builder, topic: str, *, partition: int
    ) -> asyncio.Future[None]:
        if self.refusing is not None:
            raise self.refusing
        self.sent.append((topic, partition, batch.keys))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not self.pending:
            done.set_result(None)
        self.deliveries.append(done)
        return done

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2}


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


class Stream:
    """Stands in for the agent's stream: batches of events, and a `current_event` of its own.
    Keeps what the producer was sent for each batch."""

    def __init__(self, batches: list[list[Event]], producer: AiokafkaProducer) -> None:
        self.batches = batches
        self.producer = producer
        self.current_event = Event(Message(9, 9, b""))
        self.sent: list[list[tuple[str, int, bytes | None]]] = []

    async def take_events(self, max_: int, within: float) -> AsyncIterator[list[Event]]:
        for batch in self.batches:
            yield batch
            sent, self.producer.sent = self.producer.sent, []
            self.sent.append(
                sorted((topic, partition, key) for topic, partition, keys in sent for key in keys)
            )


def test_each_post_of_a_batch_is_routed_as_the_current_event(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    registry = load_registry(ROOT / "deploy" / "agencies.yaml")
    remembered = Remembered()
    metrics = RoutingMetrics(CollectorRegistry())
    routing = Routing(VerificationPolicy(), remembered, registry, metrics)
    producer = AiokafkaProducer()
    app.producer = SimpleNamespace(_ensure_producer=lambda: producer)  # type: ignore[assignment]
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
    stream = Stream([events[:3], events[3:]], producer)
    before = stream.current_event

    agent = add_route_mentions(app, routing, "mentions.raw", remembered)
    asyncio.run(agent.fun(stream))  # type: ignore[arg-type]

    # The author is not among the post's users: each post is rejected, keyed by its id (to the
    # partition aiokafka's send would choose), and its dedup record went to its own partition's
    # changelog; each batch of posts was sent before the next was taken.
    def sent(posts: list[tuple[int, int]]) -> list[tuple[str, int, bytes | None]]:
        keys = [(partition, str(offset).encode()) for partition, offset in posts]
        return sorted(
            [("decided-changelog", partition, key) for partition, key in keys]
            + [
                ("mentions.rejected", DefaultPartitioner()(key, [0, 1, 2], []), key)
                for _, key in keys
            ]
        )

    assert stream.sent == [sent([(0, 10), (2, 11), (1, 12)]), sent([(0, 13)])]
    assert stream.current_event is before


def test_a_tombstone_is_an_erasure_not_a_post_and_a_forgotten_users_post_is_rejected(
    tmp_path: Path,
) -> None:
    app = new_app(tmp_path)
    producer = AiokafkaProducer()
    app.producer = SimpleNamespace(_ensure_producer=lambda: producer)  # type: ignore[assignment]
    request = forget_request("user", CITIZEN_ID, "citizen request", datetime.now(UTC))
    forgotten = Forgotten()
    metrics = RoutingMetrics(CollectorRegistry())
    routing = Routing(VerificationPolicy(), set(), build_registry(), metrics, forgotten=forgotten)
    forgotten.add(request)  # a request followed after the worker started
    routing.use(build_registry())  # a new registry keeps the requests
    post = make_post(id="1790000000000000950", mentions=[(KEJATI_ID, KEJATI_HANDLE)])
    events = [Event(Message(0, 1, None)), Event(Message(0, 2, stream_line(post)))]
    stream = Stream([events], producer)
    agent = add_route_mentions(app, routing, "mentions.raw", Remembered())
    asyncio.run(agent.fun(stream))  # type: ignore[arg-type]
    key = post["id"].encode()
    assert stream.sent == [[("mentions.rejected", DefaultPartitioner()(key, [0, 1, 2], []), key)]]


def test_the_dedup_table_queues_each_write_for_its_partition_not_through_faust(
    tmp_path: Path,
) -> None:
    app = new_app(tmp_path)
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


WEEK = 7 * 24 * 60 * 60


def routing_message(partition: int, offset: int, timestamp: float) -> None:
    """Make the message at `partition:offset`, sent at `timestamp`, the one being routed."""
    event = Event(Message(partition, offset, b"", timestamp=timestamp))
    _current_event.set(lambda: event)  # type: ignore[arg-type]  # Faust's is a weak reference


def test_a_post_id_is_remembered_from_one_to_two_windows(tmp_path: Path) -> None:
    decided = DecidedPosts(new_app(tmp_path), 7)
    start = 1_700_000_000.0
    routing_message(0, 5, start)
    decided.add("123")

    assert "123" not in decided  # the message that decided it, read again after a crash
    routing_message(0, 6, start + WEEK)  # the next window
    assert "123" in decided
    routing_message(0, 7, start + 2.1 * WEEK)  # two windows later
    assert "123" not in decided


def test_a_post_id_is_remembered_with_a_window_of_a_fraction_of_days(tmp_path: Path) -> None:
    """1.1 days is not a whole number of seconds in floating point (95,040.00000000001)."""
    decided = DecidedPosts(new_app(tmp_path), 1.1)
    routing_message(0, 5, 1_700_000_000.0)
    decided.add("123")
    routing_message(0, 6, 1_700_000_060.0)
    assert "123" in decided


def test_a_restarted_worker_recovers_the_queued_records_as_faust_reads_a_changelog(
    tmp_path: Path,
) -> None:
    before = DecidedPosts(new_app(tmp_path), 7)
    routing_message(1, 30, 1_700_000_000.0)
    before.add("123")
    after = DecidedPosts(new_app(tmp_path), 7)

    # Recovery decodes each record with the table's codec and hands the table the events.
    after._table.apply_changelog_batch(
        [
            SimpleNamespace(
                key=codecs.loads("json", key),
                value=codecs.loads("json", value),
                message=SimpleNamespace(partition=partition, value=value),
            )
            for partition, key, value in before.take_changelog()
        ]
    )

    routing_message(1, 31, 1_700_000_060.0)
    assert "123" in after
    assert "124" not in after


def test_a_decided_post_is_dropped_from_memory_when_its_window_expires(tmp_path: Path) -> None:
    decided = DecidedPosts(new_app(tmp_path), 7)
    routing_message(2, 8, 1_700_000_000.0)  # in 2023: long expired by the clock
    decided.add("123")
    assert len(decided._table.data) == 1

    asyncio.run(decided._table._del_old_keys())  # what Faust runs every table_cleanup_interval

    assert len(decided._table.data) == 0


def test_the_agent_takes_the_raw_topic_s_bytes_without_decoding_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = new_app(tmp_path)
    registry = load_registry(ROOT / "deploy" / "agencies.yaml")
    routing = Routing(VerificationPolicy(), set(), registry, RoutingMetrics(CollectorRegistry()))
    agent = add_route_mentions(app, routing, "mentions.raw", Remembered())

    def no_codec(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a codec was called")

    monkeypatch.setattr(app.serializers, "loads_key", no_codec)
    monkeypatch.setattr(app.serializers, "loads_value", no_codec)
    decode = agent.channel.schema.compile(app)  # type: ignore[attr-defined]
    message = faust.types.Message("mentions.raw", 0, 7, 0.0, 0, None, b"12", b"\xff{", None)
    event = asyncio.run(decode(message))

    assert (event.key, event.value) == (b"12", b"\xff{")


def agent_with(
    tmp_path: Path, producer: AiokafkaProducer, metrics: RoutingMetrics
) -> faust.types.AgentT[Any]:
    """The agent on the test registry, its producer `producer`."""
    app = new_app(tmp_path)
    app.producer = SimpleNamespace(_ensure_producer=lambda: producer)  # type: ignore[assignment]
    routing = Routing(VerificationPolicy(), set(), build_registry(), metrics)
    return add_route_mentions(app, routing, "mentions.raw", Remembered())


def complaint(offset: int) -> Event:
    """A verified author's post to the Kejaksaan Tinggi: one complaint."""
    post = make_post(
        "@KejatiJateng tolong",
        id=str(1790000000000000900 + offset),
        mentions=[(KEJATI_ID, KEJATI_HANDLE)],
    )
    return Event(Message(0, offset, stream_line(post), timestamp=time.time() - 1))


def test_route_latency_is_observed_once_the_batch_is_acknowledged(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    producer = AiokafkaProducer(pending=True)
    agent = agent_with(tmp_path, producer, RoutingMetrics(registry))

    def observed() -> float | None:
        return registry.get_sample_value("aduan_route_latency_seconds_count")

    async def scenario() -> tuple[float | None, float | None]:
        await agent.fun(Stream([[complaint(1), complaint(2)]], producer))  # type: ignore[arg-type]
        before = observed()
        for delivery in producer.deliveries:
            delivery.set_result(None)
        for _ in range(3):
            await asyncio.sleep(0)
        return before, observed()

    before, after = asyncio.run(scenario())

    assert (before, after) == (0, 2)
    slowest = registry.get_sample_value("aduan_route_latency_seconds_bucket", {"le": "0.5"})
    assert slowest == 0  # each from its mention's timestamp, a second before


def test_a_batch_kafka_refuses_stops_the_worker_before_the_next_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exits: list[int] = []
    monkeypatch.setattr("agents.route_mentions.os._exit", exits.append)
    producer = AiokafkaProducer(pending=True)
    agent = agent_with(tmp_path, producer, RoutingMetrics(CollectorRegistry()))

    async def scenario() -> list[int]:
        await agent.fun(Stream([[complaint(1)]], producer))  # type: ignore[arg-type]
        producer.deliveries[0].set_exception(KafkaTimeoutError())
        await asyncio.sleep(0)  # one loop turn: no later, so that no commit gets ahead of it
        return list(exits)

    assert asyncio.run(scenario()) == [75]


def test_a_batch_that_cannot_be_handed_to_the_producer_stops_the_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def exit_now(code: int) -> None:
        raise SystemExit(code)

    monkeypatch.setattr("agents.route_mentions.os._exit", exit_now)
    producer = AiokafkaProducer(refusing=KafkaTimeoutError())
    agent = agent_with(tmp_path, producer, RoutingMetrics(CollectorRegistry()))

    with pytest.raises(SystemExit) as stopped:
        asyncio.run(agent.fun(Stream([[complaint(1)]], producer)))  # type: ignore[arg-type]
    assert stopped.value.code == 75


def test_an_unanswered_case_is_told_overdue_once_its_deadline_passes_while_the_worker_runs(
    tmp_path: Path,
) -> None:
    app = new_app(tmp_path)
    producer = AiokafkaProducer()
    app.producer = SimpleNamespace(_ensure_producer=lambda: producer)  # type: ignore[assignment]
    now = [datetime(2026, 6, 1, 3, tzinfo=UTC)]
    threads = CaseThreads(app, lambda: {0, 1, 2})
    cases = CaseBook(build_registry(), WorkCalendar(), lambda: now[0], threads)
    metrics = RoutingMetrics(CollectorRegistry())
    routing = Routing(VerificationPolicy(), set(), build_registry(), metrics, cases)
    remembered = Remembered()
    agent = add_route_mentions(app, routing, "mentions.raw", remembered, threads)
    post = make_post(
        "@KejatiJateng tolong",
        id="1790000000000000901",
        mentions=[(KEJATI_ID, KEJATI_HANDLE)],
        created_at="2026-06-01T02:00:00.000Z",  # a Monday, Pancasila Day: due 9 June 00:00 WIB
    )
    stream = Stream([[Event(Message(1, 5, stream_line(post)))]], producer)
    asyncio.run(agent.fun(stream))  # type: ignore[arg-type]
    key = b"kejati-jateng:1790000000000000901"
    (routed,) = stream.sent
    assert ("cases", DefaultPartitioner()(key, [0, 1, 2], []), key) in routed
    assert ("aduan-case-threads-changelog", 1, b'"1790000000000000901"') in routed

    async def look() -> list[tuple[str, int, list[bytes | None]]]:
        producer.sent = []
        await tell_overdue(app, cases, [remembered, threads])
        return producer.sent

    now[0] = datetime(2026, 6, 8, 16, 59, tzinfo=UTC)
    assert asyncio.run(look()) == []
    now[0] = datetime(2026, 6, 8, 17, tzinfo=UTC)
    overdue = asyncio.run(look())
    assert sorted(overdue) == sorted(
        [
            ("cases", DefaultPartitioner()(key, [0, 1, 2], []), [key]),
            ("aduan-case-threads-changelog", 1, [b'"1790000000000000901"']),
        ]
    )
    state = threads["1790000000000000901"].told["kejati-jateng:1790000000000000901"]
    assert state["status"] == "overdue"
    assert asyncio.run(look()) == []


def test_a_restarted_worker_recovers_its_case_threads_from_the_changelog(tmp_path: Path) -> None:
    moment = datetime(2026, 6, 2, tzinfo=UTC)
    before = CaseThreads(new_app(tmp_path), lambda: {1})
    cases = CaseBook(build_registry(), WorkCalendar(), lambda: moment, before)
    routing_message(1, 30, 1_780_000_000.0)
    complaint_post = CasePost(
        "11", "11", "501", None, "2026-06-01T02:00:00.000Z", ("kejati-jateng",), False
    )
    ((_topic, key, told),) = cases.add("11", complaint_post)
    after = CaseThreads(new_app(tmp_path), lambda: {1})
    after._table.apply_changelog_batch(
        [
            SimpleNamespace(
                key=codecs.loads("json", key_bytes),
                value=codecs.loads("json", value),
                message=SimpleNamespace(partition=partition, value=value),
            )
            for partition, key_bytes, value in before.take_changelog()
        ]
    )
    thread = after["11"]
    assert thread.posts == {"11": complaint_post}
    assert thread.told == {key: told}
    after._assigned = lambda: {0, 2}  # partition 1 went to another worker
    assert list(after) == []
    assert "11" not in after
