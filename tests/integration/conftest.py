"""A real Kafka broker for the integration tests, started through the README's own script."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BROKER_SH = ROOT / "deploy" / "kafka" / "broker.sh"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A one-node KRaft broker on free ports, in a fresh data directory."""
    port = free_port()
    while True:  # the controller takes port + 1
        with socket.socket() as sock:
            try:
                sock.bind(("localhost", port + 1))
                break
            except OSError:
                port = free_port()
    env = {
        **os.environ,
        "KAFKA_PORT": str(port),
        "KAFKA_DATA_DIR": str(tmp_path_factory.mktemp("kafka")),
    }
    started = subprocess.run(
        [str(BROKER_SH), "start"], env=env, capture_output=True, text=True, check=False
    )
    assert started.returncode == 0, started.stderr
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run([str(BROKER_SH), "stop"], env=env, check=False)


@pytest.fixture
def aduan_env(broker: str, tmp_path: Path) -> dict[str, str]:
    """Environment for `aduan` commands against the test broker, with a private worker."""
    return {
        **os.environ,
        "ADUAN_BROKER": broker,
        "ADUAN_AGENCIES": str(ROOT / "deploy" / "agencies.yaml"),
        "ADUAN_WORKER_DIR": str(tmp_path / "worker"),
        "ADUAN_WEB_PORT": str(free_port()),
    }


@pytest.fixture
def worker(aduan_env: dict[str, str], tmp_path: Path) -> Iterator[Path]:
    """A running `aduan worker`; yields the path of its log."""
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["aduan", "worker"], env=aduan_env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 90
        while b"Worker]: Ready" not in log.read_bytes():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "worker not ready in 90 s:\n" + log.read_text()
            time.sleep(0.5)
        yield log
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
