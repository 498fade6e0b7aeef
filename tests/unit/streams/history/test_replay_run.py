"""What `aduan replay` reads before it routes: the registry, the spans of `mentions.raw` and the
requests to forget, all over one consumer, here a stand-in for aiokafka's over topics in memory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import TopicPartition

from agents.core.forget import forget_request
from agents.core.registry import load_registry, parse_registry
from schemas.events import ForgetKind
from schemas.topics import FORGET_TOPIC, RAW_TOPIC, REGISTRY_TOPIC
from streams.errors import BrokerError
from streams.history import replay_run
from streams.history.window import Span, Window
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[4]
AGENCIES = ROOT / "deploy" / "agencies.yaml"
SETTINGS = Settings.from_env({"ADUAN_AGENCIES": str(AGENCIES), "ADUAN_BROKER": "b1:9092"})
SINCE_MS = 1_800_000_000_000
PUBLISHED = AGENCIES.read_text().replace(
    "    name: Pemerintah Provinsi Jawa Tengah (Biro Humas)\n",
    "    name: Pemerintah Provinsi Jawa Tengah (Biro Humas)\n    answer_within_working_days: 3\n",
)


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    timestamp: int
    value: bytes | None


@dataclass(frozen=True)
class Found:
    offset: int


class Consumer:
    """A started aiokafka consumer's calls that `_start` makes. It knows a topic's partitions
    only once one of them was assigned, as aiokafka does. A real consumer keeps fetching the
    assigned partitions that are not paused; when all of them are at their ends the broker holds
    the fetch back, and every request sent after it on the connection waits too: those are
    noted."""

    def __init__(self, topics: dict[str, list[list[tuple[int, bytes | None]]]]) -> None:
        self.held = {
            topic: [
                [
                    Record(topic, p, offset, stamp, value)
                    for offset, (stamp, value) in enumerate(part)
                ]
                for p, part in enumerate(partitions)
            ]
            for topic, partitions in topics.items()
        }
        self.known: set[str] = set()
        self.assigned: list[TopicPartition] = []
        self.paused: set[TopicPartition] = set()
        self.positions: dict[TopicPartition, int] = {}
        self.read: set[str] = set()
        self.held_up: list[str] = []

    def _records(self, tp: TopicPartition) -> list[Record]:
        return self.held[tp.topic][tp.partition]

    def _at_end(self, tp: TopicPartition) -> bool:
        end = len(self._records(tp))
        return self.positions.get(tp, end) >= end  # not sought: aiokafka starts at the end

    def _send(self, request: str) -> None:
        fetching = [tp for tp in self.assigned if tp not in self.paused]
        if fetching and all(map(self._at_end, fetching)):
            self.held_up.append(request)

    async def topics(self) -> set[str]:
        self._send("metadata")
        return set(self.held)

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return set(range(len(self.held[topic]))) if topic in self.known else None

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.assigned, self.paused, self.positions = list(partitions), set(), {}
        self.known.update(tp.topic for tp in partitions)

    def pause(self, *partitions: TopicPartition) -> None:
        self.paused.update(partitions)

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        self._send("end offsets")
        return {tp: len(self._records(tp)) for tp in partitions}

    async def beginning_offsets(self, partitions: list[TopicPartition]) -> dict[Any, int]:
        self._send("beginning offsets")
        return dict.fromkeys(partitions, 0)

    async def offsets_for_times(self, stamps: dict[TopicPartition, int]) -> dict[Any, Any]:
        self._send("offsets for times")
        return {
            tp: next((Found(r.offset) for r in self._records(tp) if r.timestamp >= stamp), None)
            for tp, stamp in stamps.items()
        }

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.positions[tp] = offset

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]

    async def getmany(self, timeout_ms: int) -> dict[TopicPartition, list[Record]]:
        self._send("fetch")
        fetched = {}
        for tp in self.assigned:
            if tp in self.paused:
                continue
            records = self._records(tp)[self.positions[tp] :]
            if records:
                fetched[tp] = records
                self.positions[tp] += len(records)
                self.read.add(tp.topic)
        return fetched


def _consumers(monkeypatch: pytest.MonkeyPatch, consumer: Consumer) -> list[Consumer]:
    made: list[Consumer] = []

    @asynccontextmanager
    async def started_consumer(settings: Settings, client_id: str, **_: Any) -> AsyncIterator[Any]:
        made.append(consumer)
        yield consumer

    monkeypatch.setattr(replay_run, "started_consumer", started_consumer)
    return made


def _request(kind: ForgetKind, ident: str) -> bytes:
    request = forget_request(kind, ident, "citizen request", datetime(2027, 1, 1, tzinfo=UTC))
    return orjson.dumps(request)


def _start(agencies: Path | None = None) -> replay_run._Start:
    window = Window(datetime.fromtimestamp(SINCE_MS / 1000, UTC))
    return asyncio.run(replay_run._start(SETTINGS, agencies, window))


def test_one_consumer_reads_the_published_registry_the_spans_and_the_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before, after = SINCE_MS - 1, SINCE_MS + 1
    consumer = Consumer(
        {
            REGISTRY_TOPIC: [[(1, b"agencies: ["), (2, PUBLISHED.encode()), (3, b"")]],
            FORGET_TOPIC: [[(1, _request("post", "17")), (2, b"not a request")]],
            RAW_TOPIC: [[(before, b"{}"), (after, b"{}"), (after, None)], [(before, b"{}")], []],
        }
    )
    made = _consumers(monkeypatch, consumer)
    start = _start()
    assert made == [consumer]
    assert start.registry.version == parse_registry(PUBLISHED, "published").version
    assert start.registry.version != load_registry(AGENCIES).version
    assert start.spans == [
        Span(RAW_TOPIC, 0, 1, 3),
        Span(RAW_TOPIC, 1, 1, 1),  # nothing in the window
        Span(RAW_TOPIC, 2, 0, 0),
    ]
    assert list(start.forgotten.posts) == ["17"]
    assert consumer.read == {REGISTRY_TOPIC, FORGET_TOPIC}  # the posts are the children's
    assert consumer.held_up == []


def test_without_a_published_registry_the_file_is_used_and_nothing_is_forgotten(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer = Consumer({REGISTRY_TOPIC: [[]], RAW_TOPIC: [[(SINCE_MS, b"{}")]]})
    _consumers(monkeypatch, consumer)
    start = _start()
    assert start.registry.version == load_registry(AGENCIES).version
    assert len(start.forgotten) == 0
    assert start.spans == [Span(RAW_TOPIC, 0, 0, 1)]
    assert consumer.held_up == []


def test_a_registry_file_given_is_used_without_reading_the_published_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer = Consumer(
        {REGISTRY_TOPIC: [[(1, PUBLISHED.encode())]], RAW_TOPIC: [[(SINCE_MS, b"{}")]]}
    )
    _consumers(monkeypatch, consumer)
    start = _start(AGENCIES)
    assert start.registry.version == load_registry(AGENCIES).version
    assert REGISTRY_TOPIC not in consumer.known


def test_a_missing_mentions_raw_says_which_command_makes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _consumers(monkeypatch, Consumer({FORGET_TOPIC: [[]]}))
    with pytest.raises(BrokerError) as missing:
        _start()
    assert str(missing.value) == (
        "there is no topic mentions.raw on b1:9092; aduan topics create makes the pipeline's topics"
    )
