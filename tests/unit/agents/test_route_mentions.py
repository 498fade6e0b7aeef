"""The agent routes a batch event by event: Faust's current event is the one being routed (the
dedup table writes by it), and the stream's own `current_event`, which Faust's batching reads to
fill the next batch, is left alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
import orjson
from prometheus_client import CollectorRegistry

from agents.registry import load_registry
from agents.route_mentions import Routing, install
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


class Sink:
    """Records which event Faust says is current when each output is sent."""

    def __init__(self, sent: list[tuple[int, int] | None]) -> None:
        self.sent = sent

    async def send(self, key: bytes | None, value: bytes) -> asyncio.Future[None]:
        current = faust.current_event()
        self.sent.append(current and (current.message.partition, current.message.offset))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


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
    routing = Routing(
        app, VerificationPolicy(), set(), registry, RoutingMetrics(CollectorRegistry())
    )
    sent: list[tuple[int, int] | None] = []
    routing.sinks = {topic: Sink(sent) for topic in routing.sinks}  # type: ignore[misc]
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

    agent = install(app, routing, "mentions.raw")
    asyncio.run(agent.fun(stream))  # type: ignore[arg-type]

    assert sent == [(0, 10), (2, 11), (1, 12), (0, 13)]
    assert stream.current_event is before
