"""`aduan agencies sync` reaches a running worker and a running X producer without a restart."""

from __future__ import annotations

import json
import logging
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import responses
from kafka import KafkaProducer

from agents.core.registry import load_registry, parse_registry
from schemas.topics import REGISTRY_TOPIC
from streams.cli import main
from streams.kafka.registry_topic import publish
from streams.settings import Settings
from tests.integration.conftest import ROOT
from tests.integration.test_pipeline import aduan, read_topics
from tests.unit.streams.x.payloads import (
    API,
    KEJATI,
    NEW_AGENCY,
    RULES,
    STREAM,
    RulesAdded,
    mentions_page,
    rules_of,
)

pytestmark = pytest.mark.integration


def mention_of_kudus(post_id: str) -> bytes:
    message = {
        "data": {
            "id": post_id,
            "text": "@dishubkudus lampu lalu lintas mati",
            "author_id": "15",
            "edit_history_tweet_ids": [post_id],
            "entities": {
                "mentions": [
                    {"start": 0, "end": 12, "username": "dishubkudus", "id": "900000000000009901"}
                ]
            },
        },
        "includes": {
            "users": [
                {
                    "id": "15",
                    "name": "Warga",
                    "username": "warga15",
                    "verified": True,
                    "verified_type": "blue",
                }
            ]
        },
    }
    return orjson.dumps(message) + b"\n"


def test_a_synced_registry_routes_to_a_new_agency_and_a_bad_one_is_ignored(
    broker: str, aduan_env: dict[str, str], worker: Path, tmp_path: Path
) -> None:
    registry_file = tmp_path / "agencies.yaml"
    registry_file.write_text((ROOT / "deploy" / "agencies.yaml").read_text() + NEW_AGENCY)
    new_version = parse_registry(registry_file.read_text(), "test").version
    aduan(aduan_env, "agencies", "sync", "--agencies", str(registry_file))

    # What `sync` refuses can still reach the topic by other means: the worker must skip it.
    bad = subprocess.run(
        ["aduan", "agencies", "sync", "--agencies", str(tmp_path / "bad.yaml")],
        env=aduan_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1
    assert "registry file not found" in bad.stderr
    producer = KafkaProducer(bootstrap_servers=broker, acks="all")
    producer.send(REGISTRY_TOPIC, key=b"registry", value=b"agencies: [oops").get(timeout=30)
    producer.close()
    # The worker follows the topic: wait until it has seen both versions.
    deadline = time.monotonic() + 60
    while "ignoring an invalid registry" not in worker.read_text():
        assert time.monotonic() < deadline, worker.read_text()
        time.sleep(0.5)

    post = tmp_path / "post.jsonl"
    post.write_bytes(mention_of_kudus("1790000000000009001"))
    aduan(aduan_env, "produce", "--file", str(post))
    [(_topic, key, value)] = read_topics(broker, ["complaints.dishub-kudus"], 1)
    assert key == "1790000000000009001"
    assert orjson.loads(value)["registry_version"] == new_version
    log = worker.read_text()
    assert f"routing with registry {new_version}: 9 agencies" in log
    assert "ignoring an invalid registry; keeping the last good one: aduan.registry@1" in log


REGISTRY = ROOT / "deploy" / "agencies.yaml"
KUDUS = "900000000000009901"


@pytest.fixture
def producer_env(
    aduan_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """`aduan produce` run in this process (so that the X API is intercepted), with the shipped
    registry published as the one in force, and a registry with one more agency beside it."""
    for name, value in aduan_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ADUAN_X_BEARER_TOKEN", "test-token")
    monkeypatch.setenv("ADUAN_X_POLL_SECONDS", "1")
    settings = Settings.from_env(aduan_env)
    publish(settings, REGISTRY)  # whatever an earlier test published is no longer in force
    (tmp_path / "agencies.yaml").write_text(REGISTRY.read_text() + NEW_AGENCY)
    return settings


def publish_a_bad_then_a_new_version(settings: Settings, tmp_path: Path) -> None:
    producer = KafkaProducer(bootstrap_servers=list(settings.bootstrap_servers), acks="all")
    producer.send(REGISTRY_TOPIC, key=b"registry", value=b"agencies: [oops").get(timeout=30)
    producer.close()
    publish(settings, tmp_path / "agencies.yaml")


@responses.activate
def test_a_running_x_poller_polls_a_synced_agency_from_the_next_round(
    producer_env: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shipped = load_registry(REGISTRY)
    polled: list[str] = []

    def timeline(request: Any) -> tuple[int, dict[str, str], str]:
        account, kind = request.url.split("/users/")[1].split("?")[0].split("/")
        if kind == "tweets":  # the account's own posts, read after its mentions
            return 200, {}, json.dumps(mentions_page(account, [], []))
        polled.append(account)
        assert polled.count(KEJATI) <= 3, "the synced agency was never polled"
        if account == KEJATI and polled.count(KEJATI) == 1:
            publish_a_bad_then_a_new_version(producer_env, tmp_path)
        if account == KUDUS:
            raise KeyboardInterrupt  # how an operator stops the poller
        return 200, {}, json.dumps(mentions_page(account, [], []))

    for account in [*(a.id for agency in shipped.agencies for a in agency.accounts), KUDUS]:
        for kind in ("mentions", "tweets"):
            responses.add_callback(
                responses.GET, f"{API}/users/{account}/{kind}", callback=timeline
            )

    with caplog.at_level(logging.INFO):
        assert main(["produce", "--x-poll", "--agencies", str(REGISTRY)]) == 0

    assert polled.count(KEJATI) == 2, polled  # the new agency was polled in the next round
    assert polled[-1] == KUDUS
    assert "ignoring an invalid registry; keeping the last good one: aduan.registry@" in caplog.text
    version = parse_registry((tmp_path / "agencies.yaml").read_text(), "test").version
    assert f"following registry {version}: 9 agencies" in caplog.text


@responses.activate
def test_a_running_x_stream_gets_the_rules_of_a_synced_registry_without_a_reconnect(
    producer_env: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    responses.get(RULES, json=rules_of(load_registry(REGISTRY)))
    added = RulesAdded()
    responses.add_callback(responses.POST, RULES, callback=added)
    connections: list[None] = []

    def stream(request: Any) -> tuple[int, dict[str, str], str]:
        connections.append(None)
        publish_a_bad_then_a_new_version(producer_env, tmp_path)
        assert added.resynced.wait(30), "the producer did not re-sync its rules"
        raise KeyboardInterrupt  # how an operator stops the stream

    responses.add_callback(responses.GET, STREAM, callback=stream)

    with caplog.at_level(logging.INFO):
        assert main(["produce", "--x-stream", "--agencies", str(REGISTRY)]) == 0

    assert added.rules == [
        {"value": "(@dishubkudus OR from:900000000000009901) -is:retweet", "tag": "dishub-kudus"}
    ]
    assert len(connections) == 1
    assert "ignoring an invalid registry; keeping the last good one: aduan.registry@" in caplog.text
