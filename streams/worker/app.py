"""The Faust app. It holds settings only; `agents.route_mentions` adds the agent, and
`streams.compat` the patches to Faust it is built from."""

from __future__ import annotations

import faust

from schemas.topics import APP_ID
from streams.compat.tables import SafeTableManager
from streams.compat.transport import App
from streams.kafka.connection import Connection
from streams.settings import Settings

# The most a produce batch holds for one partition; aiokafka's default is 16 kB. aiokafka sends
# one batch a partition at a time, so with 16 kB (about 20 complaint events) the busiest agency's
# topic waited a round trip to the broker per 20 events
# (docs/decisions/0013-produce-batches-of-1-mb.md). The worker's own batches
# (`streams/kafka/batches.py`) have this limit too. 1 MB is within the broker's default largest
# message (`message.max.bytes`, 1,048,588 bytes); a broker or topic set lower refuses a full
# batch, and the worker stops at every refused batch, so it needs this lower too.
PRODUCER_BATCH_BYTES = 1024 * 1024


def create_app(settings: Settings) -> faust.App:
    return App(
        APP_ID,
        **Connection.of(settings).faust_options(),
        datadir=str(settings.worker_dir),
        web_port=settings.web_port,
        web_host="localhost",
        producer_acks=-1,
        # The agent sends a batch's events and the dedup table's changelog records in one
        # event-loop turn, so a short linger lets them share produce requests without holding
        # events up (docs/decisions/0014-producer-linger-1-ms.md).
        producer_linger=0.001,
        producer_max_batch_size=PRODUCER_BATCH_BYTES,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replicas,
        consumer_auto_offset_reset="earliest",
        # Faust waits 60 s for a crashed worker's session to expire before its partitions move
        # to a restarted or surviving worker; ours is shorter, so recovery is quicker
        # (docs/decisions/0009-short-session-timeout.md).
        broker_session_timeout=settings.worker_session_timeout,
        broker_heartbeat_interval=settings.worker_session_timeout / 3,
        autodiscover=False,
        store="memory://",
        TableManager=SafeTableManager,
    )
