"""The Faust app. It holds settings only; `agents.route_mentions` adds the agent."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

import faust
import faust.streams
from faust.types import ProducerT, TransportT

from streams.consumer import Transport
from streams.settings import SASL_MECHANISM, Settings
from streams.table_recovery import SafeTableManager
from streams.topics import APP_ID

log = logging.getLogger(__name__)

# The most a produce batch holds for one partition; aiokafka's default is 16 kB. aiokafka sends
# one batch a partition at a time, so with 16 kB (about 20 complaint events), when the worker still
# sent one record at a time, the busiest agency's topic took a round trip to the broker per 20
# events: in a traced drain of 100,000 posts the worker's sends waited 198 times, 4.4 s in all;
# with 1 MB, 4 times, 0.03 s (bench/NOTES.md). The worker's own batches (`streams/batches.py`)
# have this limit too. 1 MB is within the broker's default largest message (`message.max.bytes`,
# 1,048,588 bytes); a broker or topic set lower refuses a full batch, and the worker stops at
# every refused batch, so it needs this lower too.
PRODUCER_BATCH_BYTES = 1024 * 1024


class App(faust.App):
    def _new_transport(self) -> TransportT:
        """Faust's aiokafka transport with our consumer (`streams.consumer`)."""
        return Transport(self.conf.broker_consumer, self)

    async def maybe_start_producer(self) -> ProducerT:
        """The producer, once it runs, without Faust's stampede guard: that guard yields to the
        event loop three times a call, and every send through a Faust topic calls it, so a burst
        of sends was spread over many loop turns and went out as many small produce requests.
        (The agent's own sends no longer go through it: `streams/batches.py`.)"""
        if self.producer.started and not self.in_transaction:
            return self.producer
        producer: ProducerT = await super().maybe_start_producer()
        # Faust's guard stores itself on the instance, where it would shadow this method.
        vars(self).pop("maybe_start_producer", None)
        return producer


def create_app(settings: Settings) -> faust.App:
    credentials = None
    if settings.kafka_username:
        credentials = faust.SASLCredentials(
            username=settings.kafka_username,
            password=settings.kafka_password,
            mechanism=SASL_MECHANISM,
        )
    return App(
        APP_ID,
        broker=settings.broker_url,
        datadir=str(settings.worker_dir),
        web_port=settings.web_port,
        web_host="localhost",
        producer_acks=-1,
        # The agent sends a batch's events and the dedup table's changelog records in one
        # event-loop turn, so 1 ms should let them share produce requests (the worker sent no
        # more of them than with 5 ms, counted in one run each, when the changelog still followed
        # within a few turns); 5 ms held every event up to 4 ms longer (bench/NOTES.md).
        producer_linger=0.001,
        producer_max_batch_size=PRODUCER_BATCH_BYTES,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replicas,
        consumer_auto_offset_reset="earliest",
        # Faust waits 60 s for a crashed worker's session to expire before its partitions move
        # to a restarted or surviving worker; ours is shorter, so recovery is quicker.
        broker_session_timeout=settings.worker_session_timeout,
        broker_heartbeat_interval=settings.worker_session_timeout / 3,
        autodiscover=False,
        store="memory://",
        broker_credentials=credentials,
        TableManager=SafeTableManager,
    )


def take_waiting_events_at_once() -> None:
    """Lets Faust's streams take every event waiting in their buffer in one event-loop turn.

    Faust's stream iterator sleeps 0 s before each event, so a stream took one event from its
    buffer per loop turn, and the loop turned little faster than posts came at 1,000/s: after
    any pause the buffer drained slowly, and the agent's batches began up to 286 ms after their
    oldest post (bench/NOTES.md). Here that sleep returns at once; the iterator still yields
    whenever it waits, for an empty buffer or for the agent to take a full batch."""
    iterator = getattr(faust.streams, "_CStreamIterator", None)
    if iterator is None:  # NO_CYTHON set, or Faust built without its extension
        log.warning("Faust's Cython stream iterator is off: streams take one event a loop turn")
        return
    # The extension looks `sleep` up in its module's namespace on every call.
    vars(sys.modules[iterator.__module__])["sleep"] = _sleep_unless_zero


async def _sleep_unless_zero(delay: float, result: Any = None) -> Any:
    if delay:
        return await asyncio.sleep(delay, result)
    return result
