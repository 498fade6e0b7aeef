"""The Faust app. It holds settings only; `agents.route_mentions` adds the agent."""

from __future__ import annotations

import aiokafka
import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import ProducerT, TransportT

from streams.settings import SASL_MECHANISM, Settings
from streams.table_recovery import SafeTableManager
from streams.topics import APP_ID

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


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


class App(faust.App):
    def _new_transport(self) -> TransportT:
        """Faust's aiokafka transport, with a consumer whose fetches are held briefly."""
        return _Transport(self.conf.broker_consumer, self)

    async def maybe_start_producer(self) -> ProducerT:
        """The producer, once it runs, without Faust's stampede guard: that guard yields to the
        event loop three times a call, and every send and table write calls it, so a burst of
        sends was spread over many loop turns and went out as many small produce requests."""
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
        # Without a linger every event is its own produce request; 5 ms batches them at a cost
        # well inside the 100 ms latency target.
        producer_linger=0.005,
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
