"""Faults on a real broker while mentions flow: a worker killed with SIGKILL, a second worker
joining and the first one killed, the broker stopped and started again. Afterwards every event
`aduan route` computes for the same input must be in the topics, and nothing else; repeats are
allowed (at-least-once) and counted. Each test prints its figures (pytest -s shows them)."""

from __future__ import annotations

import random
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition

from agents.core.registry import load_registry
from schemas.topics import APP_ID, RAW_TOPIC
from tests.integration.conftest import BrokerProcess, Worker, free_port
from tests.integration.test_pipeline import Message, aduan, comparable, read_all
from tests.integration.test_replay import REGISTRY, output_topics, route, synthetic

pytestmark = pytest.mark.integration

POSTS = 3000
RATE = 300  # posts/s: a 10 s stream the worker keeps up with, so a fault lands mid-stream


@pytest.fixture
def kafka(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[BrokerProcess]:
    """A broker for one test only: each test counts every event on the topics."""
    with BrokerProcess(tmp_path_factory.mktemp("kafka"), pytestconfig) as process:
        yield process


@pytest.fixture
def broker(kafka: BrokerProcess) -> str:
    return kafka.address


@dataclass
class Stream:
    """Mentions being produced at RATE by `aduan produce`, and what they must become."""

    env: dict[str, str]
    producer: subprocess.Popen[bytes]
    expected: set[Message]
    started: float

    def finish(self) -> None:
        assert self.producer.wait(timeout=180) == 0, "aduan produce failed"

    def check(self, name: str, **figures: object) -> None:
        """Wait up to 180 s for every expected event, then compare and print the figures."""
        topics = output_topics(self.env, load_registry(REGISTRY))
        deadline = time.monotonic() + 180
        found = read_all(self.env["ADUAN_BROKER"], topics)
        while not self.expected <= set(found) and time.monotonic() < deadline:
            time.sleep(2)
            found = read_all(self.env["ADUAN_BROKER"], topics)
        complete = time.monotonic() - self.started
        lost = self.expected - set(found)
        stray = set(found) - self.expected
        repeats = len(found) - len(set(found))
        copies: dict[str, set[bytes]] = {}
        for topic, _, value in found:
            if topic.startswith("complaints."):
                copies.setdefault(orjson.loads(value)["event_id"], set()).add(value)
        print(
            f"\n{name}: {POSTS} posts, {len(self.expected)} events expected, {len(found)} read; "
            f"lost {len(lost)}, stray {len(stray)}, repeats {repeats} before dedup, "
            f"{sum(len(c) - 1 for c in copies.values())} after event_id dedup; all read back "
            f"{complete:.1f} s after the stream started; "
            + ", ".join(f"{key} {value}" for key, value in figures.items())
        )
        assert not lost, f"{len(lost)} events lost, e.g. {sorted(lost)[:2]}"
        assert not stray, f"{len(stray)} events not expected, e.g. {sorted(stray)[:2]}"
        assert all(len(c) == 1 for c in copies.values()), "one event_id, different events"
        # A hole in what the worker processed holds its commits back until it is read again;
        # this catches a hole never filled, not a commit past one (the comparison above does).
        deadline = time.monotonic() + 30
        while (behind := uncommitted(self.env["ADUAN_BROKER"])) and time.monotonic() < deadline:
            time.sleep(1)
        assert not behind, f"partition: (committed, end offset) {behind}"


def uncommitted(broker: str) -> dict[int, tuple[int | None, int]]:
    """The mentions.raw partitions whose committed offset is not the end offset yet."""
    consumer = KafkaConsumer(bootstrap_servers=broker, group_id=APP_ID, enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(RAW_TOPIC, p) for p in consumer.partitions_for_topic(RAW_TOPIC)
        ]
        assert partitions, "no mentions.raw partitions: the check would be empty"
        ends = consumer.end_offsets(partitions)
        committed = {tp: consumer.committed(tp) for tp in partitions}
        return {
            tp.partition: (committed[tp], ends[tp])
            for tp in partitions
            if (committed[tp] or 0) != ends[tp]
        }
    finally:
        consumer.close()


def start_stream(env: dict[str, str], tmp_path: Path, seed: int, rate: int = RATE) -> Stream:
    aduan(env, "topics", "create")
    posts = synthetic(env, POSTS, seed)
    source = tmp_path / "mentions.jsonl"
    source.write_bytes(b"\n".join(value for _, value in posts) + b"\n")
    expected = {comparable(*emit) for emit in route(load_registry(REGISTRY), posts)}
    producer = subprocess.Popen(
        ["aduan", "produce", "--file", str(source), "--rate", str(rate)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return Stream(env, producer, expected, time.monotonic())


def kill(worker: Worker) -> None:
    assert worker.process is not None
    worker.process.kill()
    worker.process.wait()
    worker.process = None


def pause_at_random() -> float:
    """Sleep 2 to 6 s (of the stream's 10), a new point each run; returns the pause, which the
    figures print so that a failing run can be replayed."""
    pause = random.uniform(2, 6)
    time.sleep(pause)
    return pause


def test_a_worker_killed_mid_stream_and_restarted_loses_nothing(
    aduan_env: dict[str, str], tmp_path: Path
) -> None:
    worker = Worker(aduan_env, tmp_path / "worker.log")
    worker.start()
    stream = start_stream(aduan_env, tmp_path, seed=601)
    at = pause_at_random()
    kill(worker)
    killed = time.monotonic()
    worker.start()
    ready = time.monotonic() - killed
    try:
        stream.finish()
        stream.check(
            "worker SIGKILL", kills=1, killed_at=f"{at:.1f} s", restart_to_ready=f"{ready:.1f} s"
        )
    finally:
        worker.stop()


def test_a_second_worker_joins_then_the_first_is_killed_and_nothing_is_lost(
    aduan_env: dict[str, str], tmp_path: Path
) -> None:
    first = Worker(aduan_env, tmp_path / "first.log")
    second_env = {
        **aduan_env,
        "ADUAN_WORKER_DIR": str(tmp_path / "second"),
        "ADUAN_WEB_PORT": str(free_port()),
    }
    second = Worker(second_env, tmp_path / "second.log")
    first.start()
    # 20 s: the second worker takes about 7 s to start, and the kill must come before the end
    stream = start_stream(aduan_env, tmp_path, seed=602, rate=RATE // 2)
    try:
        second.start()  # mid-stream: the group rebalances
        joined = time.monotonic() - stream.started
        pause_at_random()
        kill(first)
        killed = time.monotonic() - stream.started
        stream.finish()
        stream.check(
            "two workers", kills=1, joined_at=f"{joined:.1f} s", killed_at=f"{killed:.1f} s"
        )
        assert b"Worker]: Ready" in (tmp_path / "second.log").read_bytes()
    finally:
        first.stop()
        second.stop()


def test_the_broker_stopped_and_started_mid_stream_loses_nothing(
    aduan_env: dict[str, str], kafka: BrokerProcess, tmp_path: Path
) -> None:
    worker = Worker(aduan_env, tmp_path / "worker.log")
    worker.start()
    stream = start_stream(aduan_env, tmp_path, seed=603)
    try:
        at = pause_at_random()
        down = time.monotonic()
        kafka.stop()
        time.sleep(5)
        kafka.start()
        outage = time.monotonic() - down
        stream.finish()
        stream.check("broker restart", stopped_at=f"{at:.1f} s", outage=f"{outage:.1f} s")
        assert worker.process is not None and worker.process.poll() is None, "the worker died"
    finally:
        worker.stop()
