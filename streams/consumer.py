"""Faust's aiokafka consumer, changed so that an offset is committed only once its mention was
processed, and so that the broker holds a fetch only briefly.

Faust commits past mentions it never processed in two ways:
- Seen in traced runs of the two-worker fault test (`tests/integration/test_faults.py`): at a
  rebalance, records fetched before the seek to the committed offsets can reach the streams
  after it. The offsets they jump over count as a gap, which Faust commits past as if
  compaction had removed them, and Faust takes the committed offset for the last one processed,
  so the mention at it goes too. In one run a worker kept a partition committed at 156, got 163
  first after the seek and committed 164; the events of the posts at 156-162 were never routed.
- Read in Faust's code, not seen in those runs: a stream acks, like a processed mention, what it
  skips while a rebalance suspends it. After a revocation the consumer knows no committed offset,
  and the next commit goes past it.

Here a partition's commit moves only over an unbroken run of processed offsets starting at the
committed one: `mentions.raw` has no gaps (no compaction, no transactions). When one is missing,
the partition is read again from the committed offset, at the start of the next fetch.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import aiokafka
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message

log = logging.getLogger(__name__)

# How long the broker may hold a fetch that finds no new records. aiokafka leaves out of a fetch
# the partitions whose records it still holds, so while the worker is busy a fetch carries only
# partitions where nothing arrives (Faust's assignor topic) and is held this long, and then the
# worker sits idle. Faust asks for 1.5 s: the worker stalled for that long every few seconds at
# 1,000 posts/s and fell seconds behind. An idle worker fetches 50 times a second instead.
FETCH_MAX_WAIT_MS = 20


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(
        self, transport: faust_aiokafka.Transport
    ) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # Faust passes no such setting through; aiokafka reads this when the consumer starts.
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class Consumer(faust_aiokafka.Consumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._unprocessed: set[TP] = set()  # partitions to read again from the committed offset

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def ack(self, message: Message) -> bool:
        """Faust's ack, except for a mention no stream took in (`Stream._c_aiter` tracks what
        it processes) while the rebalance that will seek back to it is under way."""
        if not message.tracked and self._skipped_by_streams(message):
            return False
        return super().ack(message)

    def _skipped_by_streams(self, message: Message) -> bool:
        """The test `Stream._c_aiter` skips a dequeued event by; it acks in the same loop turn."""
        return (
            not self.app.flow_control.is_active()
            or message.generation_id != self.app.consumer_generation_id
        )

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """Offsets the fetches jumped over were not delivered, not compacted away: no gap."""

    def _new_offset(self, tp: TP) -> int | None:
        """The offset to commit, if the processed offsets do not begin after the committed one."""
        committed = self._committed_offset[tp]
        acked = self._acked[tp]
        if committed is not None and acked and min(acked) > committed:
            if tp not in self._unprocessed:
                log.warning(
                    "%s[%d]: offsets %d-%d were never processed; reading again from %d",
                    tp.topic,
                    tp.partition,
                    committed,
                    min(acked) - 1,
                    committed,
                )
                self._unprocessed.add(tp)
            return None
        return super()._new_offset(tp)

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        """Faust's fetch, after seeking partitions with unprocessed offsets back to them."""
        if self._unprocessed:
            await self._read_unprocessed_again()
        async for delivery in super().getmany(timeout):
            yield delivery

    async def _read_unprocessed_again(self) -> None:
        assigned = self.assignment()
        for tp in self._unprocessed:
            committed = self._committed_offset[tp]
            if tp in assigned and committed is not None:
                earliest = (await self.earliest_offsets(tp))[tp]
                if committed < earliest:
                    log.error(
                        "%s[%d]: offsets %d-%d were deleted by retention before the worker "
                        "processed them",
                        tp.topic,
                        tp.partition,
                        committed,
                        earliest - 1,
                    )
                    self._committed_offset[tp] = committed = earliest
                await self.seek(tp, committed)
        self._unprocessed.clear()


class Transport(faust_aiokafka.Transport):
    Consumer = Consumer
