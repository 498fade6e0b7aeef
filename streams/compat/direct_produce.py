"""Patch (speed): the agent hands its batches to the aiokafka producer under Faust's own.

Upstream: faust-streaming's `Producer` keeps its aiokafka producer private (`_ensure_producer`)
and offers only its topic send path (futures, serialisers, sensors a record), which cost the worker
more than the routing. The agent builds aiokafka batches itself (`streams.kafka.batches`) and sends
them on the same producer, which Faust flushes before it commits an input offset, so a commit still
leaves nothing behind. No upstream issue.

Verified against faust-streaming 0.15.3 and aiokafka 0.14.0. Without it the worker would have to
send through Faust topics, which is slower
(docs/decisions/0011-hand-events-to-the-aiokafka-producer.md).
"""

from __future__ import annotations

from typing import cast

import faust
from aiokafka import AIOKafkaProducer
from faust.transport.drivers.aiokafka import Producer

from streams.compat.upstream import Upstream

KIND = "speed"
UPSTREAM = (Upstream("faust.transport.drivers.aiokafka.Producer._ensure_producer", ("self",)),)


def aiokafka_producer(app: faust.App) -> AIOKafkaProducer:
    """The running aiokafka producer under the app's Faust producer."""
    return cast(Producer, app.producer)._ensure_producer()
