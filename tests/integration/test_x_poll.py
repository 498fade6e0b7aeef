"""`--x-poll` against a real broker: the X API is intercepted, Kafka is not."""

from __future__ import annotations

import pytest
import responses
import tweepy
from prometheus_client import CollectorRegistry

from agents.registry import load_registry
from streams.checkpoints import KafkaCheckpoints
from streams.metrics import ProducerMetrics
from streams.producer import RawSink, kafka_producer
from streams.settings import Settings
from streams.topics import RAW_TOPIC, count_messages, create_topics
from streams.x_source import poll_once
from tests.integration.conftest import ROOT
from tests.unit.streams.test_x_source import API, KEJATI, mentions_page, post, user

REGISTRY = load_registry(ROOT / "deploy" / "agencies.yaml")

pytestmark = pytest.mark.integration


@responses.activate
def test_polled_posts_reach_mentions_raw_and_the_checkpoint_survives_a_restart(
    aduan_env: dict[str, str],
) -> None:
    settings = Settings.from_env(aduan_env)
    create_topics(settings, REGISTRY)
    fresh = post(
        "1790000000000000040", "1500000002", "@KejatiJateng tolong", (KEJATI, "KejatiJateng")
    )
    responses.get(
        f"{API}/users/{KEJATI}/mentions",
        json=mentions_page(KEJATI, [fresh], [user("1500000002", "warga_dua")]),
    )
    for agency in REGISTRY.agencies:
        for account in agency.accounts:
            if account.id != KEJATI:
                responses.get(
                    f"{API}/users/{account.id}/mentions", json=mentions_page(account.id, [], [])
                )
    before = count_messages(settings, [RAW_TOPIC])[RAW_TOPIC]

    producer = kafka_producer(settings)
    try:
        sink = RawSink(producer, ProducerMetrics(CollectorRegistry(), "x-poll"))
        client = tweepy.Client("token", return_type=dict)
        produced = poll_once(
            client, REGISTRY, KafkaCheckpoints(settings, producer, sink.metrics), sink, sink.flush
        )
        restarted = KafkaCheckpoints(settings, producer, sink.metrics)
    finally:
        producer.close()

    assert produced == 1
    assert count_messages(settings, [RAW_TOPIC])[RAW_TOPIC] == before + 1
    assert restarted.get(KEJATI) == "1790000000000000040"
    registry = sink.metrics.registry
    assert (
        registry.get_sample_value("aduan_producer_posts_produced_total", {"source": "x-poll"}) == 1
    )
    checkpointed = registry.get_sample_value(
        "aduan_x_checkpoint_timestamp_seconds", {"account": KEJATI}
    )
    assert checkpointed is not None and checkpointed > 0
