"""The Faust app. It holds settings only; `agents.route_mentions` adds the agent."""

from __future__ import annotations

import faust
from faust.types import ProducerT, TransportT

from streams.consumer import Transport
from streams.settings import SASL_MECHANISM, Settings
from streams.table_recovery import SafeTableManager
from streams.topics import APP_ID


class App(faust.App):
    def _new_transport(self) -> TransportT:
        """Faust's aiokafka transport with our consumer (`streams.consumer`)."""
        return Transport(self.conf.broker_consumer, self)

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
