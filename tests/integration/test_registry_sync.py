"""`aduan agencies sync` reaches a running worker without a restart."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer

from agents.registry import parse_registry
from streams.topics import REGISTRY_TOPIC
from tests.integration.conftest import ROOT
from tests.integration.test_pipeline import aduan, read_topics

pytestmark = pytest.mark.integration

NEW_AGENCY = """
  - id: dishub-kudus
    name: Dinas Perhubungan Kabupaten Kudus
    accounts:
      - id: "900000000000009901"   # placeholder id
        username: dishubkudus
"""


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
