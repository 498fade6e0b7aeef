"""`aduan deliver`: every complaint event and case change, POSTed signed to the webhook of its
agency (docs/webhooks.md).

One aiokafka consumer in the group `aduan-webhooks` reads the complaint topics and `cases` by
pattern, so that new agencies' topics join as they appear, and instances share the partitions.
The lanes (`streams.delivery.lanes`) deliver each agency's events apart; offsets are committed
only up to the oldest event some lane has not finished (`OffsetTracker`): a crash delivers again,
with the same event ids, and never loses. The registry is followed on its topic: a new version's
webhooks, and their secrets, apply without a restart."""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import time
from collections.abc import Awaitable, Callable

import aiohttp
import aiokafka.errors
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition

from agents.core.registry import Registry, load_registry
from schemas.topics import (
    CASES_TOPIC,
    COMPLAINT_TOPIC_PREFIX,
    REGISTRY_TOPIC,
    UNROUTED,
    WEBHOOK_DEAD_LETTER_TOPIC,
    WEBHOOKS_GROUP,
)
from streams.delivery.backoff import Backoff
from streams.delivery.endpoints import (
    REQUEST_TIMEOUT,
    Endpoint,
    HttpPoster,
    WebhookError,
    read_endpoints,
)
from streams.delivery.lanes import Dispatcher
from streams.delivery.offsets import OffsetTracker
from streams.delivery.webhook_metrics import WebhookMetrics, serve_metrics
from streams.kafka import registry_topic
from streams.kafka.admin import ensure_topics, webhook_dead_letter_spec
from streams.kafka.connection import Connection, aiokafka_consumer, kafka_errors
from streams.metrics.registry import new_registry
from streams.settings import Settings

log = logging.getLogger(__name__)

TOPICS = re.compile(
    rf"^(?:{re.escape(COMPLAINT_TOPIC_PREFIX)}(?!{UNROUTED}$)[a-z0-9][a-z0-9-]*|{CASES_TOPIC})$"
)
"""Every agency's complaint topic (not complaints.unrouted: no agency receives it) and `cases`;
aiokafka matches it against every topic it sees."""
METADATA_MAX_AGE_MS = 30_000
"""How soon a new agency's topic is found: aiokafka matches the pattern at each metadata refresh."""
COMMIT_EVERY = 5.0
SETTLE_SECONDS = REQUEST_TIMEOUT + 5
"""How long a rebalance or a stop waits for the attempts under way, so that their outcome is
committed and the partition's next reader does not repeat them."""
MOST_PENDING = 50_000
"""Events waiting for endpoints that answer, over all agencies (`Dispatcher.holding`), past which
reading pauses: a bound on memory for slow endpoints and a first start, which reads what the
topics hold. A failing endpoint's events do not count, so that it never pauses the other
agencies: its lane takes no more once it holds `LANE_BACKLOG`."""
MOST_WRITING = 1_000
"""Dead letters of events no lane had room for (`backlog_full`), on their way to Kafka, past which
reading waits for them: a failing agency's share of a first start goes to `webhooks.dlq` at the
pace Kafka takes it, not all at once, where the letters would wait on one another for room in the
producer's batches until they time out."""
DEAD_LETTER_BATCH_BYTES = 1024 * 1024
"""The most a produce batch of dead letters holds, as the worker's (docs/decisions/0013): aiokafka
sends one batch a partition at a time, and its default of 16 kB holds a few dead letters only,
which would make a round trip to the broker each while a failing agency's events are skipped.
Within the broker's default largest message (`message.max.bytes`)."""


def run_deliver(settings: Settings) -> None:
    logging.basicConfig(
        level=logging.INFO, format="[%(asctime)s] %(levelname)s %(name)s: %(message)s"
    )
    published, registry_offset = registry_topic.latest_published(settings)
    registry = published or load_registry(settings.registry_file())
    endpoints = read_endpoints(registry)  # a webhook that cannot be used stops the start
    ensure_topics(settings, [webhook_dead_letter_spec(settings)])
    asyncio.run(_deliver(settings, registry, registry_offset, endpoints))


async def _deliver(
    settings: Settings, registry: Registry, registry_offset: int, endpoints: dict[str, Endpoint]
) -> None:
    metrics_registry = new_registry()
    metrics = WebhookMetrics(metrics_registry)
    tracker = OffsetTracker()
    consumer = aiokafka_consumer(
        settings,
        "aduan-deliver",
        group_id=WEBHOOKS_GROUP,
        enable_auto_commit=False,
        # A topic the group has no offset for is read from its start: a new agency's first
        # complaints come before the consumer sees its topic.
        auto_offset_reset="earliest",
        metadata_max_age_ms=METADATA_MAX_AGE_MS,
    )
    producer = AIOKafkaProducer(
        **Connection.of(settings).client_options("aduan-deliver"),
        acks="all",
        enable_idempotence=True,
        max_batch_size=DEAD_LETTER_BATCH_BYTES,
    )
    refused = (
        f"Kafka refused {Connection.of(settings).user} a right aduan deliver needs: reading the "
        f"complaint topics and {CASES_TOPIC} in group {WEBHOOKS_GROUP}, writing "
        f"{WEBHOOK_DEAD_LETTER_TOPIC}"
    )

    async def dead_letter(key: bytes, value: bytes) -> None:
        with kafka_errors(f"writing to {WEBHOOK_DEAD_LETTER_TOPIC}", refused=refused):
            await producer.send_and_wait(WEBHOOK_DEAD_LETTER_TOPIC, value, key=key)

    server = await serve_metrics(
        metrics_registry, settings.deliver_port, lambda: bool(consumer.assignment())
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    session = aiohttp.ClientSession()
    dispatcher = Dispatcher(
        HttpPoster(session),
        dead_letter,
        Backoff(settings.webhook_retry_seconds),
        metrics,
        tracker,
    )
    dispatcher.use(endpoints)
    follower: asyncio.Task[None] | None = None
    try:
        with kafka_errors("starting aduan deliver's Kafka clients", refused=refused):
            await producer.start()
            await consumer.start()
        consumer.subscribe(pattern=TOPICS.pattern, listener=_Rebalance(consumer, dispatcher))
        follower = asyncio.create_task(
            registry_topic.follow(settings, registry_offset, _apply(dispatcher))
        )
        log.info(
            "delivering to the webhooks of %d agencies (registry %s)",
            len(dispatcher.lanes),
            registry.version,
        )
        await _read(consumer, dispatcher, follower, stop, refused)
    finally:
        # The attempts under way finish and are committed: fewer events delivered twice.
        dispatcher.close([(tp.topic, tp.partition) for tp in consumer.assignment()])
        await dispatcher.settle(SETTLE_SECONDS)
        await _commit(consumer, dispatcher.tracker)
        if follower is not None:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
        await dispatcher.stop()
        await consumer.stop()
        await producer.stop()
        await session.close()
        await server.cleanup()


async def _read(
    consumer: AIOKafkaConsumer,
    dispatcher: Dispatcher,
    follower: asyncio.Task[None],
    stop: asyncio.Event,
    refused: str,
) -> None:
    """Hands records to the lanes until `stop`, committing every `COMMIT_EVERY` seconds."""
    committed_at = time.monotonic()
    while not stop.is_set():
        while len(dispatcher.writing) >= MOST_WRITING:
            await asyncio.wait(set(dispatcher.writing), return_when=asyncio.FIRST_COMPLETED)
        dispatcher.check()
        if follower.done():
            with kafka_errors(f"following {REGISTRY_TOPIC}"):
                follower.result()
        # Paused partitions are still polled: the group sees the consumer alive.
        if dispatcher.holding() >= MOST_PENDING:
            consumer.pause(*consumer.assignment())
        else:
            consumer.resume(*consumer.paused())
        with kafka_errors("reading the complaint topics and cases", refused=refused):
            batches = await consumer.getmany(timeout_ms=1000, max_records=1000)
        for records in batches.values():
            for record in records:
                dispatcher.offer(record)
        if time.monotonic() - committed_at >= COMMIT_EVERY:
            await _commit(consumer, dispatcher.tracker)
            committed_at = time.monotonic()


async def _commit(consumer: AIOKafkaConsumer, tracker: OffsetTracker) -> None:
    """Commits the partitions whose commit point moved; a failure is retried at the next commit
    (meanwhile a crash would deliver those events again)."""
    offsets = tracker.commits()
    if not offsets:
        return
    try:
        await consumer.commit({TopicPartition(*p): offset for p, offset in offsets.items()})
    except aiokafka.errors.KafkaError as exc:
        log.warning("committing delivered offsets failed, retried at the next commit: %s", exc)
        return
    tracker.committed(offsets)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """Partitions moving: the attempts under way finish and are committed before the partitions'
    next reader starts from the commit."""

    def __init__(self, consumer: AIOKafkaConsumer, dispatcher: Dispatcher) -> None:
        self.consumer = consumer
        self.dispatcher = dispatcher

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        partitions = [(tp.topic, tp.partition) for tp in revoked]
        self.dispatcher.close(partitions)
        await self.dispatcher.settle(SETTLE_SECONDS)
        await _commit(self.consumer, self.dispatcher.tracker)
        self.dispatcher.tracker.drop(partitions)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self.dispatcher.tracker.assign((tp.topic, tp.partition) for tp in assigned)
        log.info("reading %d partitions", len(assigned))


def _apply(dispatcher: Dispatcher) -> Callable[[Registry], Awaitable[None]]:
    async def apply(registry: Registry) -> None:
        try:
            endpoints = read_endpoints(registry)
        except WebhookError as exc:
            log.error("keeping the webhooks in use; registry %s: %s", registry.version, exc)
            return
        dispatcher.use(endpoints)
        log.info("registry %s: webhooks of %d agencies", registry.version, len(endpoints))

    return apply
