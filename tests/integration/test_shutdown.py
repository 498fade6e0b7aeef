"""A worker stopped with SIGTERM (`deploy/local.sh down`, systemd, Kubernetes) while or right after
it routes a burst: it must commit the input offsets of everything it routed before it exits, with
exit code 0, so that the next worker routes none of those posts again."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition

from agents.core.registry import load_registry
from schemas.topics import APP_ID, RAW_TOPIC
from tests.integration.conftest import BrokerProcess, Worker
from tests.integration.test_pipeline import aduan
from tests.integration.test_replay import REGISTRY, Post, output_topics, route, send, synthetic

pytestmark = pytest.mark.integration

POSTS = 3000
BURSTS = 5


@pytest.fixture
def broker(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[str]:
    """A broker for one test only: the tests count every record on the topics."""
    with BrokerProcess(tmp_path_factory.mktemp("kafka"), pytestconfig) as process:
        yield process.address


class Offsets:
    """The end offsets of the output topics and the worker's committed offsets of `mentions.raw`,
    read through one client, so that a check takes milliseconds, well within a commit interval."""

    def __init__(self, broker: str, outputs: list[str]) -> None:
        # A group id to read the worker's commits; the client never joins the group.
        self._consumer = KafkaConsumer(
            bootstrap_servers=broker, group_id=APP_ID, enable_auto_commit=False
        )
        self._outputs = self._partitions(outputs)
        self._raw = self._partitions([RAW_TOPIC])

    def _partitions(self, topics: list[str]) -> list[TopicPartition]:
        partitions = [
            TopicPartition(topic, partition)
            for topic in topics
            for partition in self._consumer.partitions_for_topic(topic) or ()
        ]
        assert partitions, f"no partitions of {topics}"
        return partitions

    def records(self) -> Counter[str]:
        """How many records each output topic holds (they were empty before the test)."""
        counts: Counter[str] = Counter()
        for tp, end in self._consumer.end_offsets(self._outputs).items():
            counts[tp.topic] += end
        return counts

    def uncommitted(self) -> dict[int, tuple[int | None, int]]:
        """The mentions.raw partitions whose committed offset is not the end offset."""
        ends = self._consumer.end_offsets(self._raw)
        committed = {tp: self._consumer.committed(tp) for tp in self._raw}
        return {
            tp.partition: (committed[tp], ends[tp])
            for tp in self._raw
            if (committed[tp] or 0) != ends[tp]
        }

    def wait_for(self, total: int) -> None:
        """Until the output topics hold at least `total` records in all, or 120 s."""
        deadline = time.monotonic() + 120
        while (found := self.records().total()) < total:
            assert time.monotonic() < deadline, f"{found} of {total} records in 120 s"
            time.sleep(0.02)

    def close(self) -> None:
        self._consumer.close()


@pytest.fixture
def offsets(aduan_env: dict[str, str]) -> Iterator[Offsets]:
    aduan(aduan_env, "topics", "create")
    topics = output_topics(aduan_env, load_registry(REGISTRY))
    watch = Offsets(aduan_env["ADUAN_BROKER"], topics)
    try:
        yield watch
    finally:
        watch.close()


def expected_records(posts: list[Post]) -> Counter[str]:
    return Counter(topic for topic, _, _ in route(load_registry(REGISTRY), posts))


def terminate(worker: Worker) -> int:
    """SIGTERM, then the worker's exit code."""
    assert worker.process is not None
    worker.process.send_signal(signal.SIGTERM)
    exit_code = worker.process.wait(timeout=60)
    worker.process = None
    return exit_code


def test_sigterm_right_after_a_burst_commits_everything_routed(
    aduan_env: dict[str, str], offsets: Offsets, tmp_path: Path
) -> None:
    worker = Worker(aduan_env, tmp_path / "worker.log")
    worker.start()
    try:
        expected: Counter[str] = Counter()
        # Faust commits on a timer; a burst whose offsets it committed before the signal would
        # prove nothing, so another burst follows until the signal finds offsets uncommitted.
        for burst in range(BURSTS):
            posts = synthetic(aduan_env, POSTS, seed=710 + burst)
            expected += expected_records(posts)
            send(aduan_env["ADUAN_BROKER"], posts, first_ms=int(time.time() * 1000))
            offsets.wait_for(expected.total())
            if behind := offsets.uncommitted():
                break
        else:
            pytest.fail(f"all {BURSTS} bursts were committed before the signal: nothing tested")
        exit_code = terminate(worker)
    finally:
        worker.stop()
    assert offsets.records() == expected
    after = offsets.uncommitted()
    print(f"\nSIGTERM after burst {burst + 1}: (committed, end) {behind}, after the exit {after}")
    assert not after, f"partition: (committed, end offset) {after}\n" + worker.log.read_text()
    assert exit_code == 0, worker.log.read_text()


def test_sigterm_mid_burst_leaves_nothing_for_the_next_worker_to_route_again(
    aduan_env: dict[str, str], offsets: Offsets, tmp_path: Path
) -> None:
    """Stopped while it routes, the worker finishes and commits what it took in hand; the next
    worker reads on from there, so every event is on the topics once."""
    posts = synthetic(aduan_env, 3 * POSTS, seed=720)
    expected = expected_records(posts)
    worker = Worker(aduan_env, tmp_path / "worker.log")
    worker.start()
    sending = threading.Thread(
        target=send, args=(aduan_env["ADUAN_BROKER"], posts, int(time.time() * 1000))
    )
    sending.start()
    try:
        offsets.wait_for(expected.total() // 4)
        exit_code = terminate(worker)
        routed = offsets.records().total()
        sending.join()
        worker.start()
        offsets.wait_for(expected.total())
        deadline = time.monotonic() + 30
        while (behind := offsets.uncommitted()) and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        sending.join()
        worker.stop()
    print(f"\nSIGTERM mid-burst: {routed} of {expected.total()} records routed before the exit")
    assert exit_code == 0, worker.log.read_text()
    assert routed < expected.total(), "the burst was routed before the signal: nothing tested"
    # Repeats would come first in each partition, before the posts the first worker left.
    assert offsets.records() == expected, "posts routed again by the next worker"
    assert not behind, f"partition: (committed, end offset) {behind}"
