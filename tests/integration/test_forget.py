"""Forgetting on a real broker: a routed complaint is forgotten, its agency reads the withdrawal,
a replay no longer routes it, and once the log cleaner has run no topic holds its text."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from kafka import KafkaConsumer

from tests.integration.conftest import Worker, aduan_environment, running_broker
from tests.integration.test_pipeline import aduan, records_until_end
from tests.unit.agents.factories import make_post, make_user, stream_line

pytestmark = pytest.mark.integration

KEJATI = ("900000000000000201", "KejatiJateng")  # deploy/agencies.yaml
WARGA = make_user("1600000000000000071", "warga71")
TETANGGA = make_user("1600000000000000072", "warga72")
LAG_MS = 2000
"""max.compaction.lag.ms of the text topics here: a day by default."""


@pytest.fixture
def broker(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[str]:
    """A broker of this test's own, whose every topic it reads."""
    with running_broker(tmp_path_factory, pytestconfig) as address:
        yield address


@pytest.fixture
def env(broker: str, tmp_path: Path) -> dict[str, str]:
    # One partition a topic: a message then always follows the erasure in its partition, which
    # is what closes the erasure's log segment for the cleaner.
    return {
        **aduan_environment(broker, tmp_path),
        "ADUAN_TOPIC_PARTITIONS": "1",
        "ADUAN_COMPACTION_LAG_MS": str(LAG_MS),
    }


def complaint(author: dict[str, str], text: str) -> tuple[str, bytes]:
    data = make_post(f"@{KEJATI[1]} {text}", author_id=author["id"], mentions=[KEJATI])
    return data["id"], stream_line(data, [author])


def produce(env: dict[str, str], tmp_path: Path, *lines: bytes) -> None:
    source = tmp_path / f"{uuid.uuid4().hex}.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    aduan(env, "produce", "--file", str(source))


def wait_for(check: object, what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"not in {seconds} s: {what}"
        time.sleep(1)


def every_topic(broker: str) -> list[str]:
    consumer = KafkaConsumer(bootstrap_servers=broker)
    try:
        return sorted(topic for topic in consumer.topics() if not topic.startswith("__"))
    finally:
        consumer.close()


def holding(broker: str, secret: bytes) -> list[str]:
    """The topics with a message whose key or value holds `secret`."""
    return sorted(
        {
            record.topic
            for record in records_until_end(broker, every_topic(broker))
            if secret in (record.key or b"") or secret in (record.value or b"")
        }
    )


def rejected_version(broker: str) -> object:
    """The registry version of the first rejection: the one the worker routes with."""
    for record in records_until_end(broker, ["mentions.rejected"]):
        return orjson.loads(record.value)["registry_version"]
    return None


def subscribed(env: dict[str, str]) -> list[dict[str, object]]:
    out = aduan(
        env, "subscribe", "--agency", "kejati-jateng", "--from-beginning", "--idle-timeout", "3"
    )
    return [orjson.loads(line) for line in out.splitlines()]


def test_a_forgotten_complaint_is_withdrawn_not_replayed_and_gone_after_cleaning(
    broker: str, env: dict[str, str], tmp_path: Path
) -> None:
    started = datetime.now(UTC) - timedelta(minutes=1)
    secret = f"rahasia-{uuid.uuid4().hex}"
    forgotten_id, forgotten_line = complaint(WARGA, f"jalan rusak {secret}")
    kept_id, kept_line = complaint(TETANGGA, "lampu jalan mati")
    aduan(env, "topics", "create")
    worker = Worker(env, tmp_path / "worker.log")
    worker.start()
    try:
        produce(env, tmp_path, forgotten_line, kept_line)
        wait_for(lambda: len(subscribed(env)) == 2, "both complaints at the agency")
        assert holding(broker, secret.encode()) == ["complaints.kejati-jateng", "mentions.raw"]

        said = aduan(env, "forget", "--post", forgotten_id, "--reason", "citizen request 2026-117")
        assert said.splitlines() == [
            f"post {forgotten_id}: recorded; 1 complaint(s) withdrawn (complaints.kejati-jateng); "
            "1 mention(s) erased from mentions.raw"
        ]
        events = subscribed(env)
        withdrawals = [event for event in events if "withdrawn_at" in event]
        assert [(w["complaint_id"], w["reason"]) for w in withdrawals] == [
            (forgotten_id, "citizen request 2026-117")
        ]
        assert secret.encode() not in orjson.dumps(withdrawals)

        # The same post delivered again (a second poller, a backfill) is rejected, textless,
        # and the next sweep erases its mention.
        produce(env, tmp_path, forgotten_line)
        wait_for(
            lambda: (
                [orjson.loads(r.value) for r in records_until_end(broker, ["mentions.rejected"])]
                == [
                    {
                        "tweet_id": forgotten_id,
                        "reason": "forgotten",
                        "author_id": None,
                        "registry_version": rejected_version(broker),
                        "schema_version": 3,
                    }
                ]
            ),
            "the redelivered post rejected as forgotten",
        )
        # The withdrawal, older than the lag here and not compacted yet, may be written again.
        [swept] = aduan(env, "forget", "--sweep").splitlines()
        assert swept.startswith(
            "0 complaint(s) withdrawn, 1 mention(s) erased, 0 under whole-thread keys left to "
            "their retention"
        )

        replayed = aduan(env, "replay", "--since", started.isoformat(), "--output", "-")
        routed = [orjson.loads(line) for line in replayed.splitlines()]
        complaints = [
            r["value"]["tweet_id"] for r in routed if r["topic"].startswith("complaints.")
        ]
        assert complaints == [kept_id]
        assert {r["value"]["reason"] for r in routed if r["topic"] == "mentions.rejected"} == {
            "forgotten"
        }

        # The cleaner takes a segment once it is closed, which the next message after the
        # compaction lag does; then it runs within its backoff (15 s by default).
        time.sleep(LAG_MS / 1000 + 1)
        produce(env, tmp_path, complaint(TETANGGA, "got tersumbat")[1])
        wait_for(lambda: holding(broker, secret.encode()) == [], "the text gone from every topic")
    finally:
        worker.stop()
    remaining = [event["tweet_id"] for event in subscribed(env) if "text" in event]
    assert forgotten_id not in remaining
    assert kept_id in remaining
