"""The topics aduan uses, and their creation (kafka-python's admin client)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka import TopicPartition as AIOTopicPartition
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType

from agents.core.errors import ConfigError
from agents.core.registry import Registry
from schemas.topics import (
    API_KEYS_TOPIC,
    CASES_TOPIC,
    CHECKPOINT_TOPIC,
    COMPLAINT_TOPIC_PREFIX,
    DEAD_LETTER_TOPIC,
    FORGET_TOPIC,
    RAW_TOPIC,
    REGISTRY_TOPIC,
    REJECTED_TOPIC,
    UNROUTED_TOPIC,
    WEBHOOK_DEAD_LETTER_TOPIC,
    complaint_topic,
)
from streams.errors import BrokerError
from streams.kafka.connection import (
    Connection,
    aiokafka_consumer,
    kafka_admin,
    kafka_consumer,
    kafka_errors,
)
from streams.settings import Settings

_TOPIC_EXISTS = 36  # Kafka's TOPIC_ALREADY_EXISTS error code
_NOT_AUTHORIZED = 29  # TOPIC_AUTHORIZATION_FAILED


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    configs: dict[str, str]
    partitions: int | None = None
    """None: as many as the settings say."""


def topic_specs(settings: Settings, registry: Registry) -> list[TopicSpec]:
    """Every topic of the pipeline for this registry."""
    checkpoints = TopicSpec(CHECKPOINT_TOPIC, _COMPACTED)
    return [
        *routing_specs(settings, registry),
        checkpoints,
        api_keys_spec(),
        webhook_dead_letter_spec(settings),
    ]


def webhook_dead_letter_spec(settings: Settings) -> TopicSpec:
    """`webhooks.dlq`: kept as long as the events it holds."""
    return TopicSpec(WEBHOOK_DEAD_LETTER_TOPIC, {"retention.ms": str(settings.event_retention_ms)})


def routing_specs(settings: Settings, registry: Registry) -> list[TopicSpec]:
    """The topics the worker reads and writes."""
    raw = TopicSpec(RAW_TOPIC, erasable(settings, settings.raw_retention_ms))
    kept = {"retention.ms": str(settings.event_retention_ms)}
    fixed = [TopicSpec(name, kept) for name in (REJECTED_TOPIC, DEAD_LETTER_TOPIC)]
    complaints = [
        TopicSpec(name, erasable(settings, settings.event_retention_ms))
        for name in (UNROUTED_TOPIC, *map(complaint_topic, registry.agency_ids))
    ]
    cases = TopicSpec(CASES_TOPIC, _COMPACTED)
    # One partition: readers take the registry's latest version from partition 0.
    registry_spec = TopicSpec(REGISTRY_TOPIC, _COMPACTED, 1)
    return [raw, *fixed, *complaints, cases, registry_spec, forget_spec()]


def uncompacted(settings: Settings, topics: list[str]) -> list[str]:
    """The topics of `topics` that are not compacted (made before aduan compacted them, or
    changed since): there a tombstone or a withdrawal erases nothing."""
    if not topics:
        return []
    admin = kafka_admin(settings)
    with closing(admin), kafka_errors("describing topic configs"):
        described = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic) for topic in topics]
        )
    configs = described.get("topic", {}) if isinstance(described, dict) else {}
    return [
        topic
        for topic in topics
        if "compact" not in configs.get(topic, {}).get("cleanup.policy", {}).get("value", "")
    ]


def api_keys_spec() -> TopicSpec:
    """`aduan.api-keys`: compacted (a key's latest record, or its tombstone, is all that matters);
    one partition, which every `serve` instance reads whole and follows."""
    return TopicSpec(API_KEYS_TOPIC, _COMPACTED, 1)


def forget_spec() -> TopicSpec:
    """`aduan.forget`: compacted and never deleted, as a request must outlive the posts it names;
    one partition, which its readers read whole."""
    return TopicSpec(FORGET_TOPIC, _COMPACTED, 1)


def erasable(settings: Settings, retention_ms: int) -> dict[str, str]:
    """The configs of a topic that holds texts: deleted after `retention_ms`, and compacted, so
    that a tombstone or a withdrawal with a message's key erases the message within the
    compaction lag (docs/decisions/0033-forgetting-by-compaction.md)."""
    return {
        "cleanup.policy": "compact,delete",
        "retention.ms": str(retention_ms),
        "max.compaction.lag.ms": str(settings.compaction_lag_ms),
    }


_COMPACTED = {"cleanup.policy": "compact"}
"""Only the latest value of a key matters."""


def read_to_end(settings: Settings, topic: str) -> tuple[list[Any], dict[int, int]]:
    """Every record of `topic` up to its current end, read without a consumer group, and the end
    offset of each partition."""
    consumer = kafka_consumer(settings, "aduan-read-to-end", enable_auto_commit=False)
    with closing(consumer), kafka_errors(f"reading {topic}"):
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:  # missing, or hidden from a user who may not read it
            return [], {}
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        records: list[Any] = []
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            for batch in consumer.poll(timeout_ms=1000).values():
                records += batch
        return records, {tp.partition: end for tp, end in ends.items()}


async def partitions_of(
    consumer: AIOKafkaConsumer, topics: Collection[str]
) -> dict[str, list[int]]:
    """The partitions of each of `topics` that exists, for a started aiokafka consumer; a topic
    that is missing, or hidden from a user who may not read it, is left out."""
    listed = await consumer.topics()
    probes = [AIOTopicPartition(topic, 0) for topic in topics if topic in listed]
    # aiokafka fetches the metadata of assigned topics only, and `end_offsets` waits for that
    # fetch (asking for an unknown partition instead sleeps a retry backoff per topic). Every
    # topic has a partition 0; paused, the probes fetch no records.
    consumer.assign(probes)
    consumer.pause(*probes)
    await consumer.end_offsets(probes)
    return {tp.topic: sorted(consumer.partitions_for_topic(tp.topic) or ()) for tp in probes}


async def records_to_end(consumer: AIOKafkaConsumer, topics: Sequence[str]) -> list[Any]:
    """Every record of `topics` up to their current ends, read by a started aiokafka consumer
    that it assigns; none of a topic that is missing or hidden, as `read_to_end`. Call it last:
    once a partition is read to its end, the consumer's next fetch of it waits on the broker and
    holds up every request sent after it on the connection."""
    records: list[Any] = []
    with kafka_errors(f"reading {' and '.join(topics)}"):
        found = await partitions_of(consumer, topics)
        partitions = [AIOTopicPartition(topic, p) for topic in topics for p in found.get(topic, ())]
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, starts[tp])
        while any([await consumer.position(tp) < ends[tp] for tp in partitions]):
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                records += batch
    return records


async def follow_partition(
    settings: Settings, topic: str, offset: int, client_id: str
) -> AsyncIterator[Any]:
    """Every record of partition 0 of `topic` from `offset` on, read without a consumer group (so
    that every reader sees every record); runs until cancelled."""
    consumer = aiokafka_consumer(settings, client_id, enable_auto_commit=False)
    partition = AIOTopicPartition(topic, 0)
    await consumer.start()
    try:
        consumer.assign([partition])
        consumer.seek(partition, offset)
        async for record in consumer:
            yield record
    finally:
        await consumer.stop()


def offsets_at(
    consumer: KafkaConsumer, partitions: list[Any], stamp_ms: int
) -> dict[Any, int | None]:
    """Each partition's first offset whose record time is at or after `stamp_ms`; None where no
    record is that recent."""
    found = consumer.offsets_for_times(dict.fromkeys(partitions, stamp_ms))
    return {tp: None if found.get(tp) is None else found[tp].offset for tp in partitions}


def complaint_topics(settings: Settings) -> list[str]:
    """Every `complaints.*` topic on the cluster, unrouted included, sorted: also those of
    agencies the registry in force no longer lists."""
    consumer = kafka_consumer(settings, "aduan-topics")
    with closing(consumer), kafka_errors("listing the topics"):
        return sorted(t for t in consumer.topics() if t.startswith(COMPLAINT_TOPIC_PREFIX))


@dataclass(frozen=True, slots=True)
class TopicsCheck:
    states: dict[str, str]
    """Each topic's state in a line: created, exists, or a partition mismatch explained."""
    error: ConfigError | None
    """Set when a mismatch breaks the pipeline; it names the first."""


def create_and_check_topics(settings: Settings, registry: Registry) -> TopicsCheck:
    """Create the pipeline's missing topics, and check every topic's partitions."""
    created = create_topics(settings, registry)
    specs = topic_specs(settings, registry)
    mismatches = {mismatch.topic: mismatch for mismatch in partition_mismatches(settings, specs)}
    states = {}
    for topic, new in created.items():
        states[topic] = "created" if new else "exists"
        if topic in mismatches:
            states[topic] = f"exists, MISMATCH: {mismatches[topic].explain()}"
    broken = [mismatch for mismatch in mismatches.values() if mismatch.breaks_the_pipeline]
    if not broken:
        return TopicsCheck(states, None)
    more = f" ({len(broken) - 1} more above)" if len(broken) > 1 else ""
    return TopicsCheck(states, ConfigError(broken[0].explain() + more))


def create_topics(settings: Settings, registry: Registry) -> dict[str, bool]:
    """Create the pipeline's missing topics; returns each topic name with True when it was
    created now."""
    return ensure_topics(settings, topic_specs(settings, registry))


def ensure_topics(settings: Settings, specs: list[TopicSpec]) -> dict[str, bool]:
    """Create the topics of `specs` that are missing; returns each name with True when it was
    created now. Only missing topics are asked for: on a secured cluster the worker may not
    create topics at all, and needs none created when they exist."""
    created = {spec.name: False for spec in specs}
    admin = kafka_admin(settings)
    with closing(admin), kafka_errors("creating topics"):
        existing = set(admin.list_topics())
        missing = {
            spec.name: {
                "num_partitions": spec.partitions or settings.topic_partitions,
                "replication_factor": settings.topic_replicas,
                "configs": spec.configs,
            }
            for spec in specs
            if spec.name not in existing
        }
        if not missing:
            return created
        response = admin.create_topics(missing, raise_errors=False)
        for topic in response["topics"]:
            _check_created(settings, topic)
            created[topic["name"]] = topic["error_code"] == 0
        admin.wait_for_topics([name for name, new in created.items() if new])
    return created


def _check_created(settings: Settings, topic: dict[str, Any]) -> None:
    code = topic["error_code"]
    if code == _NOT_AUTHORIZED:
        raise BrokerError(
            f"{Connection.of(settings).user} may not create topic {topic['name']}; create the "
            "topics first with `aduan topics create` as a user who may (the broker's admin)"
        )
    if code not in (0, _TOPIC_EXISTS):
        raise BrokerError(f"creating topic {topic['name']} failed: {topic['error_message']}")


@dataclass(frozen=True, slots=True)
class PartitionMismatch:
    """A topic that exists with another number of partitions than its spec asks for."""

    topic: str
    partitions: int
    """On the cluster."""
    wanted: int

    @property
    def breaks_the_pipeline(self) -> bool:
        """The worker's dedup table changelog is made with ADUAN_TOPIC_PARTITIONS partitions and
        must have as many as mentions.raw (Faust refuses to start otherwise, and post ids would
        be remembered in other partitions than their posts'); the registry is read from
        partition 0 only, and so are the requests to forget. On the other topics only where keys
        land differs, and their readers read every partition."""
        return self.topic in (RAW_TOPIC, REGISTRY_TOPIC, FORGET_TOPIC, API_KEYS_TOPIC)

    def explain(self) -> str:
        """What the mismatch means and how to mend it, in one line."""
        if self.topic == REGISTRY_TOPIC:
            return (
                f"{self.topic} has {self.partitions} partitions; it must have 1, as readers take "
                f"the registry from partition 0: delete the topic, then run `aduan topics create` "
                "and `aduan agencies sync`"
            )
        if self.topic == API_KEYS_TOPIC:
            return (
                f"{self.topic} has {self.partitions} partitions; it must have 1, as `aduan serve` "
                "follows partition 0 only and would miss revocations: delete the topic, run "
                "`aduan topics create`, and create the agencies' keys again"
            )
        if self.topic == FORGET_TOPIC:
            return (
                f"{self.topic} has {self.partitions} partitions; it must have 1, as readers take "
                "the requests from partition 0: copy its records to a new one-partition topic of "
                "that name (deleting it would forget the requests)"
            )
        said = f"{self.topic} has {self.partitions} partitions, ADUAN_TOPIC_PARTITIONS asks for "
        said += str(self.wanted)
        if self.topic == RAW_TOPIC:
            return (
                f"{said}: the worker's dedup changelog is made with ADUAN_TOPIC_PARTITIONS "
                f"partitions and must match {RAW_TOPIC}; set ADUAN_TOPIC_PARTITIONS="
                f"{self.partitions} for every aduan command (adding partitions to {RAW_TOPIC} "
                "would move post ids away from where the worker remembers them)"
            )
        return f"{said}: left as it is (keys hash over {self.partitions} partitions)"


def partition_mismatches(settings: Settings, specs: list[TopicSpec]) -> list[PartitionMismatch]:
    """The topics of `specs` that exist with another number of partitions than asked for."""
    admin = kafka_admin(settings)
    with closing(admin), kafka_errors("describing topics"):
        described = admin.describe_topics([spec.name for spec in specs])
    counts = {
        topic["name"]: len(topic["partitions"]) for topic in described if topic["error_code"] == 0
    }
    mismatches = []
    for spec in specs:
        wanted = spec.partitions or settings.topic_partitions
        found = counts.get(spec.name)
        if found is not None and found != wanted:
            mismatches.append(PartitionMismatch(spec.name, found, wanted))
    return mismatches


def count_messages(settings: Settings, topics: list[str]) -> dict[str, int]:
    """Messages on each topic now (end offset minus start offset, summed over partitions)."""
    consumer = kafka_consumer(settings, "aduan-count")
    with closing(consumer), kafka_errors("counting messages"):
        partitions = [
            TopicPartition(topic, partition)
            for topic in topics
            for partition in consumer.partitions_for_topic(topic) or ()
        ]
        ends = consumer.end_offsets(partitions)
        starts = consumer.beginning_offsets(partitions)
    counts = dict.fromkeys(topics, 0)
    for tp in partitions:
        counts[tp.topic] += ends[tp] - starts[tp]
    return counts
