"""Faust's aiokafka transport and app with the consumer patches (`contiguous_commits`,
`consumer_on_loop`, `fetch_max_wait`, `handover_at_once`, `wake_on_buffer_drop`)."""

from __future__ import annotations

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TransportT

from streams.compat.consumer_on_loop import ConsumerOnLoop
from streams.compat.contiguous_commits import ContiguousCommits
from streams.compat.fetch_max_wait import ShortFetchWait
from streams.compat.handover_at_once import HandOverAtOnce
from streams.compat.upstream import Upstream
from streams.compat.wake_on_buffer_drop import WakeOnBufferDrop

KIND = "wiring"
UPSTREAM = (
    Upstream("faust.App._new_transport", ("self",)),
    Upstream("faust.transport.drivers.aiokafka.Transport.Consumer"),
)


class ConsumerThread(ShortFetchWait, ConsumerOnLoop):
    """Faust's consumer service on the worker's loop, with a short fetch wait."""


class Consumer(ContiguousCommits, HandOverAtOnce, WakeOnBufferDrop):
    """Faust's aiokafka consumer with every consumer patch."""

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    Consumer = Consumer


class App(faust.App):
    """Faust's app, with `Transport` for `kafka://` brokers."""

    def _new_transport(self) -> TransportT:
        return Transport(self.conf.broker_consumer, self)
