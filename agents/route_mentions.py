"""The Faust agent: reads `mentions.raw`, asks the pure router where each post goes, sends.

It only moves bytes around `Router.route_line`, the function `aduan route` calls too, so the live
pipeline and the offline command cannot drift apart.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Sequence
from functools import partial
from typing import Any, NoReturn, Protocol, cast

import faust
import orjson
from faust.types.windows import WindowRange
from faust.windows import TumblingWindow

from agents.changelog import QueuedChangelog
from agents.core.cases import CaseBook
from agents.core.forget import Forgotten
from agents.core.registry import Registry
from agents.core.route import Emit, Router, SeenPosts
from agents.core.verify import VerificationPolicy
from agents.route_metrics import RoutingMetrics
from schemas.events import Source, source_of
from schemas.topics import COMPLAINT_TOPIC_PREFIX
from streams.compat import table_store
from streams.compat.current_event import set_current_event
from streams.compat.direct_produce import aiokafka_producer
from streams.kafka.batches import Batches

log = logging.getLogger(__name__)

_DAY = 24 * 60 * 60


class DecidedPosts(QueuedChangelog):
    """Post ids decided recently, kept in a windowed Faust table so that they survive restarts
    (the table's changelog topic) and are forgotten later (window expiry).

    Windows are `days` long and a lookup reads the current and the previous one: an id is
    remembered for at least `days` and at most twice that, for two lookups a post instead of
    one a day (docs/decisions/0004-dedup-table-keyed-by-post-id.md).

    It reads and writes the table's store itself and queues each write's changelog record, which
    the agent sends straight to the producer with the post's events (`take_changelog`): Faust's
    window wrappers, sensors and topic send path cost the worker more than the lookups and writes
    themselves (docs/decisions/0020-dedup-store-written-directly.md,
    docs/decisions/0011-hand-events-to-the-aiokafka-producer.md)."""

    def __init__(self, app: faust.App, days: float) -> None:
        super().__init__()
        # Whole seconds: Faust places a write in its window by whole seconds and looks a key up
        # by the exact span, so with a span like 1.1 days * 86,400 s (95,040.00000000001) no
        # lookup found a write.
        self._span = float(round(days * _DAY))
        self._window = TumblingWindow(self._span, expires=2 * self._span)
        self._table = cast(
            faust.Table[tuple[object, WindowRange], str],
            app.Table(
                "decided-posts",
                # Recovery decodes the changelog with this codec; orjson writes the same JSON.
                schema=faust.Schema(key_serializer="json", value_serializer="json"),
            ),
        )
        self._table.using_window(self._window)  # for the changelog's retention and the expiry

    def __contains__(self, tweet_id: object) -> bool:
        message = _current_message()
        store = self._table.data
        decided = store.get((tweet_id, self._window.current(message.timestamp))) or store.get(
            (tweet_id, self._window.delta(message.timestamp, self._span))
        )
        # The same message read again after a crash is not a duplicate: its events may never
        # have reached Kafka, so it must be routed again.
        return bool(decided) and decided != _decided_by(message)

    def add(self, tweet_id: str) -> None:
        """A write as the table makes it, without its sensors, and with its changelog record
        queued instead of sent."""
        message = _current_message()
        table = self._table
        value = _decided_by(message)
        for window in self._window.ranges(message.timestamp):
            key = (tweet_id, window)
            # Into the partition of the post, where recovery looks for it; Faust checks that
            # the changelog has as many partitions as the post's topic.
            partition = table.partition_for_key(key)
            assert partition is not None  # the table does not use the default partitioner
            table_store.write(table, key, value, partition)
            self._changelog.append((partition, orjson.dumps(key), orjson.dumps(value)))


def _current_message() -> faust.types.Message:
    event = faust.current_event()
    if event is None:
        raise RuntimeError("the dedup table is read and written only while an event is routed")
    return event.message


def _decided_by(message: faust.types.Message) -> str:
    """`partition:offset` of the message being processed: what decided a post id."""
    return f"{message.partition}:{message.offset}"


class Routing:
    """The router of the registry in force; `use` swaps it, between two events, when a new
    registry version arrives. Every router shares `forgotten`, which grows as requests come."""

    def __init__(
        self,
        policy: VerificationPolicy,
        seen: SeenPosts,
        registry: Registry,
        metrics: RoutingMetrics,
        cases: CaseBook | None = None,
        *,
        forgotten: Forgotten | None = None,
    ) -> None:
        self.policy = policy
        self.seen = seen
        self.metrics = metrics
        self.cases = cases
        self.forgotten = Forgotten() if forgotten is None else forgotten
        self.use(registry)

    def use(self, registry: Registry) -> None:
        if self.cases is not None:
            self.cases.registry = registry
        self.router: Router = Router(registry, self.policy, self.seen, self.cases, self.forgotten)
        self.metrics.use_registry(registry)
        log.info("routing with registry %s: %d agencies", registry.version, len(registry.agencies))


# A batch is what arrived within BATCH_WAIT, at most BATCH_MAX posts. Its events are sent in
# one event-loop turn, so they share produce requests: one event at a time, aiokafka sent a
# request every few events (each partition's batch lingers on its own clock), which cost the
# worker and the broker more than the routing. Faust's window starts when the previous batch is
# done, not when a post arrives, so a post waits about half of it, and then for the rest of its
# batch to be routed: hence a short window (docs/decisions/0010-route-a-batch-at-a-time.md).
BATCH_MAX = 500
BATCH_WAIT = 0.005
OVERDUE_EVERY = 60.0
"""Seconds between two looks for cases past their deadline."""


class Undecoded(faust.Schema[bytes | None, bytes | None]):
    """A message's key and value as the bytes they are: the router parses the bytes itself, so
    Faust's raw codec (a codec lookup and two calls for each) would be work for nothing
    (docs/decisions/0021-raw-bytes-without-faust-codecs.md)."""

    def __init__(self) -> None:
        super().__init__(key_serializer="raw", value_serializer="raw")

    def loads_key(
        self, app: faust.types.AppT, message: faust.types.Message, **_: Any
    ) -> bytes | None:
        return message.key

    def loads_value(
        self, app: faust.types.AppT, message: faust.types.Message, **_: Any
    ) -> bytes | None:
        return message.value


class Changelog(Protocol):
    """A table whose changelog records the agent sends (`DecidedPosts`)."""

    @property
    def changelog_topic(self) -> str: ...

    def take_changelog(self) -> list[tuple[int, bytes, bytes | None]]: ...


def add_route_mentions(
    app: faust.App, routing: Routing, raw_topic: str, *changelogs: Changelog
) -> faust.types.AgentT[Any]:
    """Register the `route_mentions` agent on `app`, and the timer that tells overdue cases; both
    send the records of `changelogs` (the dedup table's, the case threads')."""
    source = app.topic(raw_topic, schema=Undecoded())
    metrics = routing.metrics
    # The timer's changes to the case threads must not land in a batch the agent is still
    # filling: their changelog records would ride with another batch's commit.
    turn = asyncio.Lock()

    async def route_one(
        event: faust.types.EventT[bytes], batches: Batches, posted: list[float]
    ) -> list[Emit]:
        """Route a post and add its events to `batches`, its timestamp to `posted` once a
        complaint."""
        message = event.message
        if message.value is None:
            return []  # a tombstone: `aduan forget` erasing a post, nothing to route
        emits = routing.router.route_message(message.value, source_of(message))
        for topic, key, value in emits:
            encoded = None if value is None else orjson.dumps(value)
            await batches.add(topic, None if key is None else key.encode(), encoded)
            if topic.startswith(COMPLAINT_TOPIC_PREFIX):
                posted.append(message.timestamp)
        return emits

    async def route_batch(
        events: Sequence[faust.types.EventT[bytes]],
    ) -> tuple[list[float], asyncio.Future[list[Any]]]:
        """Route a batch of posts and hand their events and the dedup table's changelog records
        to the producer; the complaints' mention timestamps, and the batch's acknowledgement."""
        # Straight to the producer under Faust's, in batches, not through Faust topics: a
        # topic's send path (futures, serialisers, sensors) cost the worker more than the
        # routing (docs/decisions/0011-hand-events-to-the-aiokafka-producer.md). Faust flushes
        # this producer before it commits an offset, so a commit leaves nothing behind.
        batches = Batches(aiokafka_producer(app), on_delivery=_stop_if_refused)
        posted: list[float] = []
        routed: list[list[Emit]] = []
        for event in events:
            # The dedup table writes to the changelog partition of the current event and into
            # its time window; in a batch that must be this event, not the last one. Only this
            # task's context variable: `stream.current_event` belongs to the task that fills
            # the next batch, and changing it swaps the event that task buffers.
            set_current_event(event)
            routed.append(await route_one(event, batches, posted))
        metrics.count(routed)
        await send_changelogs(batches, changelogs)
        return posted, await batches.send()

    # concurrency 1: faust issue #606 loses messages when an agent runs with more
    # (docs/decisions/0010-route-a-batch-at-a-time.md).
    @app.agent(source, concurrency=1)
    async def route_mentions(events_of: faust.StreamT[bytes]) -> None:
        stream = cast(faust.Stream[bytes], events_of)  # StreamT does not declare take_events
        # take_events acks a batch's events once this loop body is done with them all, and in a
        # `finally`: also when the body raised, sent or not.
        async for events in stream.take_events(BATCH_MAX, within=BATCH_WAIT):
            try:
                async with turn:
                    posted, sent = await route_batch(events)
            except Exception as error:
                _stop_before_commit(
                    f"routing or sending a batch of {len(events)} posts failed: {error!r}",
                    source_of(events[0].message),
                )
            sent.add_done_callback(partial(_observe_latency, metrics, posted))

    async def look_for_overdue() -> None:
        if routing.cases is not None:
            async with turn:
                await tell_overdue(app, routing.cases, changelogs)

    app.timer(OVERDUE_EVERY)(look_for_overdue)
    return route_mentions


async def tell_overdue(
    app: faust.App, cases: CaseBook, changelogs: Sequence[Changelog]
) -> asyncio.Future[list[Any]]:
    """Send the new states of the cases whose deadline passed since the last look, with the
    case threads' changelog records; the acknowledgement of it all."""
    batches = Batches(aiokafka_producer(app), on_delivery=_stop_if_refused)
    for topic, key, value in cases.overdue():
        await batches.add(topic, key.encode(), None if value is None else orjson.dumps(value))
    await send_changelogs(batches, changelogs)
    return await batches.send()


async def send_changelogs(batches: Batches, changelogs: Sequence[Changelog]) -> None:
    for changelog in changelogs:
        for partition, key, value in changelog.take_changelog():
            await batches.add(changelog.changelog_topic, key, value, partition)


def _observe_latency(
    metrics: RoutingMetrics, posted: list[float], delivery: asyncio.Future[Any]
) -> None:
    """A batch of posts acknowledged: the route latency of each complaint in it, from its
    mention's timestamp in Kafka. (A refused batch has stopped the worker: `_stop_if_refused`.)"""
    if delivery.cancelled() or delivery.exception() is not None:
        return
    now = time.time()
    for timestamp in posted:
        metrics.latency.observe(now - timestamp)


def _stop_if_refused(delivery: asyncio.Future[Any]) -> None:
    if delivery.cancelled():
        _stop_before_commit("a produce batch was cancelled", None)
    if delivery.exception() is not None:
        _stop_before_commit(f"Kafka refused a produce batch: {delivery.exception()!r}", None)


def _stop_before_commit(reason: str, where: Source | None) -> NoReturn:
    """Faust would acknowledge the input offset of an event whose output is lost (it acks in a
    `finally`, whatever became of the sends). Exiting at once leaves the offset uncommitted, so
    the restarted worker reads the post again."""
    log.critical("%s (%s): stopping the worker so that the post is read again", reason, where)
    os._exit(75)
