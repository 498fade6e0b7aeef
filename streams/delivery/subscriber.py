"""`aduan subscribe`: an agency reads its own complaints topic (kafka-python consumer)."""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from contextlib import closing
from datetime import datetime
from typing import Any, BinaryIO

import orjson
from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition

from agents.core.errors import AduanError
from schemas.topics import agency_group, complaint_topic
from streams.kafka.admin import offsets_at
from streams.kafka.connection import Connection, hidden_hint, kafka_consumer, kafka_errors
from streams.settings import Settings

_REMEMBERED_EVENT_IDS = 100_000
"""Enough to cover a redelivered batch; repeats across restarts need the consumer's own store."""


class _StartAt(ConsumerRebalanceListener):  # type: ignore[misc]
    """Moves newly assigned partitions to the start, or to the offsets in `since`."""

    def __init__(self, consumer: KafkaConsumer, since: dict[Any, int | None] | None) -> None:
        self.consumer = consumer
        self.since = since
        self.moved: set[Any] = set()
        """Partitions moved already: a later rebalance must not rewind them again."""

    def on_partitions_revoked(self, revoked: Any) -> None:
        pass

    def on_partitions_assigned(self, assigned: Any) -> None:
        # Runs on kafka-python's IO thread: seeks only, no request that waits for the broker.
        assigned = [tp for tp in assigned if tp not in self.moved]
        self.moved.update(assigned)
        if not assigned:
            return
        if self.since is None:
            self.consumer.seek_to_beginning(*assigned)
            return
        for tp in assigned:
            offset = self.since.get(tp)
            if offset is None:
                self.consumer.seek_to_end(tp)
            else:
                self.consumer.seek(tp, offset)


_TERMINAL_CONTROLS = re.compile(
    r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
"""What a terminal would act on rather than show: C0 and C1 controls and DEL (escape sequences,
bell, the window title), bidi marks, embeddings, overrides and isolates (text shown in another
order than it is), and the line and paragraph separators (a JSON line split in two). The line's
own newline ends it."""


def for_terminal(line: bytes) -> bytes:
    """A JSON line with every character of `_TERMINAL_CONTROLS` written as a `\\uXXXX` escape:
    still valid JSON for the same event, and shown as it is. orjson escapes C0 controls, but not
    DEL, C1 controls or the bidi and separator characters."""
    text = line.decode("utf-8")
    escaped = _TERMINAL_CONTROLS.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
    return escaped.encode("utf-8")


def subscribe(
    settings: Settings,
    agency: str,
    group: str | None,
    sink: BinaryIO,
    *,
    rewind: bool = False,
    since: datetime | None = None,
    max_events: int | None = None,
    idle_timeout: float | None = None,
) -> int:
    """Write the agency's complaints to `sink`, one JSON line each, committing after output.

    Returns the number written, when `max_events` or `idle_timeout` ends the loop."""
    group_id = group or agency_group(agency)
    topic = complaint_topic(agency)
    refused = (
        f"Kafka refused {Connection.of(settings).user} access to {topic} or group {group_id}; "
        f"an operator grants it with aduan agencies grant --agency {agency}"
    )
    consumer = kafka_consumer(
        settings,
        f"aduan-subscribe-{agency}",
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    with closing(consumer), kafka_errors(f"reading {topic}", refused=refused):
        found = consumer.partitions_for_topic(topic)
        if found is None:
            # A secured cluster hides the topics a user may not read: say both possibilities.
            denied = hidden_hint(settings)
            if denied:
                denied += f" (an operator grants it with aduan agencies grant --agency {agency})"
            raise AduanError(
                f"there is no topic {topic}{denied}: is {agency!r} an agency id of the "
                "registry? (aduan topics count lists the topics)"
            )
        if rewind or since is not None:
            offsets = None
            if since is not None:
                partitions = [TopicPartition(topic, partition) for partition in sorted(found)]
                offsets = offsets_at(consumer, partitions, int(since.timestamp() * 1000))
            consumer.subscribe([topic], listener=_StartAt(consumer, offsets))
        else:
            consumer.subscribe([topic])
        return _copy(consumer, sink, max_events, idle_timeout)


def _copy(
    consumer: KafkaConsumer, sink: BinaryIO, max_events: int | None, idle_timeout: float | None
) -> int:
    """Events to `sink`, without repeats, committing after each batch is written; on a terminal
    with the characters it would act on escaped (`for_terminal`), elsewhere byte for byte."""
    terminal = sink.isatty()
    seen: OrderedDict[str, None] = OrderedDict()
    written = 0
    last_event = time.monotonic()
    while max_events is None or written < max_events:
        # Never fetch past max_events: the commit below covers everything fetched.
        wanted = 500 if max_events is None else min(500, max_events - written)
        batches = consumer.poll(timeout_ms=500, max_records=wanted)
        if not batches:
            if idle_timeout is not None and time.monotonic() - last_event >= idle_timeout:
                break
            continue
        last_event = time.monotonic()
        for records in batches.values():
            for record in records:
                event = orjson.loads(record.value)
                event_id = event.get("event_id")
                if event_id in seen:
                    continue  # a redelivery: at-least-once delivery can repeat an event
                seen[event_id] = None
                if len(seen) > _REMEMBERED_EVENT_IDS:
                    seen.popitem(last=False)
                line = orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE)
                sink.write(for_terminal(line) if terminal else line)
                written += 1
        sink.flush()
        consumer.commit()
    return written
