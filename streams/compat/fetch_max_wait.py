"""Patch (latency): the broker holds a fetch that finds no new records 20 ms, not 1.5 s.

Upstream: faust-streaming passes no `fetch_max_wait_ms` to aiokafka's consumer, so aiokafka's
default (500 ms) or Faust's own (1.5 s) applies. aiokafka leaves out of a fetch the partitions
whose records it still holds, so while the worker is busy a fetch carries only partitions where
nothing arrives (Faust's assignor topic) and is held that long, and the worker sits idle and
falls behind (docs/decisions/0015-fetch-max-wait-20-ms.md). No upstream issue or setting exists
for it.

Verified against faust-streaming 0.15.3 and aiokafka 0.14.0. Without it latency grows by up to
the broker's hold time; nothing is lost.
"""

from __future__ import annotations

import aiokafka
from faust.transport.drivers import aiokafka as faust_aiokafka

from streams.compat.upstream import Upstream

KIND = "speed"
UPSTREAM = (
    Upstream(
        "faust.transport.drivers.aiokafka.AIOKafkaConsumerThread._create_worker_consumer",
        ("self", "transport"),
    ),
    Upstream("aiokafka.AIOKafkaConsumer._fetch_max_wait_ms", instance=True),
)

FETCH_MAX_WAIT_MS = 20
"""How long the broker may hold a fetch that finds no new records. An idle worker fetches 50
times a second."""


class ShortFetchWait(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer service, whose aiokafka consumer asks the broker to hold a fetch briefly."""

    def _create_worker_consumer(
        self, transport: faust_aiokafka.Transport
    ) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # Faust passes no such setting through; aiokafka reads this when the consumer starts.
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer
