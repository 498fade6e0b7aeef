"""The production shape: a three-node KRaft cluster on localhost (replication factor 3,
min.insync.replicas 2). One node is killed with SIGKILL while mentions flow; the pipeline must go
on with the two others and lose nothing."""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import BrokerProcess, Worker, aduan_environment
from tests.integration.test_faults import pause_at_random, start_stream

pytestmark = pytest.mark.integration


@pytest.fixture
def cluster(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[BrokerProcess]:
    with BrokerProcess(tmp_path_factory.mktemp("cluster"), pytestconfig, nodes=3) as process:
        yield process


def test_losing_one_node_of_three_mid_stream_loses_nothing(
    cluster: BrokerProcess, tmp_path: Path
) -> None:
    env = {**aduan_environment(cluster.address, tmp_path), "ADUAN_TOPIC_REPLICAS": "3"}
    worker = Worker(env, tmp_path / "worker.log")
    worker.start()
    stream = start_stream(env, tmp_path, seed=604)
    try:
        pause_at_random()
        # Each node leads about a third of the partitions: any one is a leader to lose.
        node = random.randint(1, 3)
        os.kill(cluster.pid(node), signal.SIGKILL)
        killed = time.monotonic() - stream.started
        stream.finish()
        stream.check("cluster node loss", killed_node=node, killed_at=f"{killed:.1f} s")
        assert worker.process is not None and worker.process.poll() is None, "the worker died"
    finally:
        worker.stop()
