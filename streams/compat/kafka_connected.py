"""Patch (observability): whether a kafka-python producer holds a connection to a broker.

Upstream: kafka-python's `KafkaProducer` has no public call for it (`bootstrap_connected` only tells
whether bootstrapping is under way); its network client sits at the private `_sender._client`. The
producer's `/readyz` answers from it. No upstream issue.

Verified against kafka-python 3.0.12. Without it the producer could not say whether it is ready.
"""

from __future__ import annotations

from kafka import KafkaProducer

from streams.compat.upstream import Upstream

KIND = "observability"
UPSTREAM = (
    Upstream("kafka.KafkaProducer._sender", instance=True),
    Upstream("kafka.producer.sender.Sender._client", instance=True),
)


def broker_connected(producer: KafkaProducer) -> bool:
    """Whether the producer holds a connection to a broker of the cluster."""
    client = producer._sender._client
    return any(client.connected(broker.node_id) for broker in client.cluster.brokers())
