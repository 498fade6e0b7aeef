"""`--x-poll` against a real broker: the X API is intercepted, Kafka is not."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import responses
import tweepy
from kafka import KafkaProducer
from prometheus_client import CollectorRegistry
from responses import BaseResponse

from agents.core.registry import load_registry
from schemas.topics import CHECKPOINT_TOPIC, RAW_TOPIC
from streams.cli import main
from streams.kafka.admin import count_messages, create_topics, read_to_end
from streams.kafka.connection import Connection, kafka_producer
from streams.metrics.producer import ProducerMetrics
from streams.producer.sink import RawSink
from streams.settings import Settings
from streams.x.checkpoints import KafkaCheckpoints
from streams.x.poll import TIMELINES, Timeline, poll_once
from tests.integration.conftest import ROOT
from tests.unit.streams.x.payloads import (
    API,
    KEJATI,
    answer,
    mentions_page,
    post,
    timeline_url,
    unauthorized,
    user,
)

REGISTRY = load_registry(ROOT / "deploy" / "agencies.yaml")

pytestmark = pytest.mark.integration


def x_poll_sink(settings: Settings, producer: KafkaProducer) -> RawSink:
    metrics = ProducerMetrics(CollectorRegistry(), "x-poll")
    return RawSink(producer, metrics, Connection.of(settings).user)


def intercept_kejati(
    mentions: list[dict[str, Any]], answers: list[dict[str, Any]] | None = None
) -> dict[Timeline, BaseResponse]:
    """The X API answers `mentions` (by warga_dua) for Kejati's mentions and `answers` for its
    own posts, nothing for the other timelines; Kejati's intercepts by timeline."""
    pages = {
        "mentions": mentions_page(KEJATI, mentions, [user("1500000002", "warga_dua")]),
        "posts": mentions_page(KEJATI, answers or [], [user(KEJATI, "KejatiJateng", "government")]),
    }
    kejati: dict[Timeline, BaseResponse] = {}
    for agency in REGISTRY.agencies:
        for account in agency.accounts:
            for timeline in TIMELINES:
                if account.id == KEJATI:
                    kejati[timeline] = responses.get(
                        timeline_url(KEJATI, timeline), json=pages[timeline]
                    )
                else:
                    responses.get(
                        timeline_url(account.id, timeline),
                        json=mentions_page(account.id, [], []),
                    )
    return kejati


@responses.activate
def test_polled_posts_and_answers_reach_mentions_raw_and_the_checkpoints_survive_a_restart(
    aduan_env: dict[str, str],
) -> None:
    settings = Settings.from_env(aduan_env)
    create_topics(settings, REGISTRY)
    fresh = post(
        "1790000000000000040", "1500000002", "@KejatiJateng tolong", (KEJATI, "KejatiJateng")
    )
    reply = answer("1790000000000000041", KEJATI, fresh, "warga_dua")
    kejati = intercept_kejati([fresh], [reply])
    before = count_messages(settings, [RAW_TOPIC])[RAW_TOPIC]

    producer = kafka_producer(settings)
    try:
        # A mentions checkpoint as a poller that read no posts timeline stored it.
        producer.send(CHECKPOINT_TOPIC, key=KEJATI.encode(), value=b"1790000000000000035").get(
            timeout=30
        )
        sink = x_poll_sink(settings, producer)
        client = tweepy.Client("token", return_type=dict)
        produced = poll_once(
            client, REGISTRY, KafkaCheckpoints(settings, producer, sink.metrics), sink, sink.flush
        )
        restarted = KafkaCheckpoints(settings, producer, sink.metrics)
    finally:
        producer.close()

    assert produced == 2
    assert count_messages(settings, [RAW_TOPIC])[RAW_TOPIC] == before + 2
    assert "since_id=1790000000000000035" in str(kejati["mentions"].calls[0].request.url)
    assert restarted.get(KEJATI, "mentions") == "1790000000000000040"
    assert restarted.get(KEJATI, "posts") == "1790000000000000041"
    records, _ = read_to_end(settings, CHECKPOINT_TOPIC)
    stored = {record.key: record.value for record in records}
    assert stored[KEJATI.encode()] == b"1790000000000000040"
    assert stored[f"{KEJATI}:posts".encode()] == b"1790000000000000041"
    registry = sink.metrics.registry
    assert (
        registry.get_sample_value("aduan_producer_posts_produced_total", {"source": "x-poll"}) == 2
    )
    checkpointed = registry.get_sample_value(
        "aduan_x_checkpoint_timestamp_seconds", {"account": KEJATI}
    )
    assert checkpointed is not None and checkpointed > 0


class _DieBeforeCheckpoint(KafkaCheckpoints):
    """Says when a checkpoint is about to be stored, then waits to be killed."""

    flag: Path

    def put(self, account_id: str, timeline: Timeline, since_id: str) -> None:
        self.flag.write_text(since_id)
        time.sleep(3600)


def _poll_and_hang_before_the_checkpoint(env: dict[str, str], flag: Path) -> None:
    """The poller, in a forked process: the test's interception of the X API is active here."""
    settings = Settings.from_env(env)
    intercept_kejati(POLLED)
    producer = kafka_producer(settings)
    sink = x_poll_sink(settings, producer)
    checkpoints = _DieBeforeCheckpoint(settings, producer, sink.metrics)
    checkpoints.flag = flag
    poll_once(tweepy.Client("token", return_type=dict), REGISTRY, checkpoints, sink, sink.flush)


POLLED = [
    post(
        f"17900000000000001{n:02d}",
        "1500000002",
        f"@KejatiJateng lapor {n}",
        (KEJATI, "KejatiJateng"),
    )
    for n in range(3)
]


@responses.activate
def test_a_poller_killed_between_produce_and_checkpoint_loses_nothing_and_repeats_are_dropped(
    aduan_env: dict[str, str], worker: Path, tmp_path: Path
) -> None:
    settings = Settings.from_env(aduan_env)
    flag = tmp_path / "about-to-checkpoint"
    poller = multiprocessing.get_context("fork").Process(
        target=_poll_and_hang_before_the_checkpoint, args=(aduan_env, flag)
    )
    poller.start()
    deadline = time.monotonic() + 60
    while not flag.exists():
        assert poller.is_alive() and time.monotonic() < deadline, "the poller never got there"
        time.sleep(0.05)
    os.kill(poller.pid or 0, signal.SIGKILL)  # the page is in Kafka, its checkpoint is not
    poller.join()

    intercept_kejati(POLLED)
    producer = kafka_producer(settings)
    try:
        sink = x_poll_sink(settings, producer)
        checkpoints = KafkaCheckpoints(settings, producer, sink.metrics)
        assert checkpoints.get(KEJATI, "mentions") != flag.read_text()
        client = tweepy.Client("token", return_type=dict)
        assert poll_once(client, REGISTRY, checkpoints, sink, sink.flush) == len(POLLED)
    finally:
        producer.close()

    ids = {item["id"] for item in POLLED}
    topics = ["complaints.kejati-jateng", "mentions.rejected"]
    deadline = time.monotonic() + 60
    mine: list[tuple[str, dict[str, Any]]] = []
    while len(mine) < 2 * len(POLLED) and time.monotonic() < deadline:
        records, _ = read_to_end(settings, topics[0])
        rejected, _ = read_to_end(settings, topics[1])
        mine = [
            (record.topic, event)
            for record in records + rejected
            if (event := orjson.loads(record.value))["tweet_id"] in ids
        ]
        time.sleep(1)
    complaints = sorted(e["event_id"] for topic, e in mine if topic == topics[0])
    reasons = [e["reason"] for topic, e in mine if topic == topics[1]]
    assert len(complaints) == len(set(complaints)) == len(POLLED)
    assert reasons == ["duplicate"] * len(POLLED)


@responses.activate
def test_a_refused_token_stops_the_poller_with_one_line_naming_the_setting(
    aduan_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = "AAAA-revoked-bearer-token"
    for name, value in aduan_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ADUAN_X_BEARER_TOKEN", token)
    first = REGISTRY.agencies[0].accounts[0]
    refusal = responses.get(f"{API}/users/{first.id}/mentions", status=401, json=unauthorized())

    assert main(["produce", "--x-poll"]) == 1

    assert refusal.call_count == 1  # not retried
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("aduan ")]
    assert errors == [
        f"aduan produce: X refused the bearer token for the mentions timeline of "
        f"@{first.username} (HTTP 401 Unauthorized): set ADUAN_X_BEARER_TOKEN, or "
        "ADUAN_X_BEARER_TOKEN_FILE, to a valid token of the app"
    ]
    assert token not in caplog.text
