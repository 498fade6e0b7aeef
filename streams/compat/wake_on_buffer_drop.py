"""Patch (speed): a partition back from a full stream buffer ends Faust's wait for records.

Upstream: a fetch hands a stream all that aiokafka holds of a partition; a stream buffer that full
takes its partitions out of the set Faust fetches from, and Faust then waits up to 1 s for records
of the others. That wait did not end when the buffer drained and the partitions came back, so the
worker sat idle while input waited (docs/decisions/0018-wake-on-buffer-drop.md). Here aiokafka's
fetcher is told to look again (its waiters are private). Needs `consumer_on_loop`: the fetcher is
not thread-safe, and only there does it run on the worker's loop. No upstream issue.

Verified against faust-streaming 0.15.3 and aiokafka 0.14.0. Without it the worker idles while
input waits; nothing is lost.
"""

from __future__ import annotations

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from streams.compat.consumer_on_loop import ConsumerOnLoop
from streams.compat.upstream import Upstream

KIND = "speed"
UPSTREAM = (
    Upstream("faust.transport.drivers.aiokafka.Consumer.on_buffer_drop", ("self", "tp")),
    Upstream("faust.transport.drivers.aiokafka.Consumer._buffered_partitions", instance=True),
    Upstream("faust.transport.drivers.aiokafka.AIOKafkaConsumerThread._consumer"),
    Upstream("aiokafka.AIOKafkaConsumer._fetcher", instance=True),
    Upstream("aiokafka.consumer.fetcher.Fetcher._fetch_waiters", instance=True),
    Upstream("aiokafka.consumer.fetcher.Fetcher._notify", ("self", "future")),
)


class WakeOnBufferDrop(faust_aiokafka.Consumer):
    """Faust's consumer, whose fetch looks for records again once a full buffer drained."""

    def on_buffer_drop(self, tp: TP) -> None:
        back = tp in self._buffered_partitions
        super().on_buffer_drop(tp)
        if back and isinstance(self._thread, ConsumerOnLoop):
            look_for_records_again(self._thread)


def look_for_records_again(thread: ConsumerOnLoop) -> None:
    """Ends aiokafka's wait for new records, so that it looks again at the partitions it was asked
    for (the set Faust keeps of its active ones, which it changes in place)."""
    fetcher = None if thread._consumer is None else thread._consumer._fetcher
    if fetcher is None:  # not started, or stopped: nothing waits
        return
    for waiter in list(fetcher._fetch_waiters):
        fetcher._notify(waiter)
