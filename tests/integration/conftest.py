"""A real Kafka broker for the integration tests, started through the README's own script."""

from __future__ import annotations

import contextlib
import os
import random
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BROKER_SH = ROOT / "deploy" / "kafka" / "broker.sh"


def free_port(span: int = 1) -> int:
    """The first of `span` free consecutive ports, below the kernel's ephemeral range: there an
    outgoing connection could take a port between its choice and the broker's bind (a node of a
    three-node cluster once found its port taken so)."""
    try:
        ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral = 32768  # Linux's default
    while True:
        port = random.randrange(10_000, ephemeral - span)
        with contextlib.ExitStack() as taken:
            try:
                for offset in range(span):
                    taken.enter_context(socket.socket()).bind(("localhost", port + offset))
            except OSError:
                continue
        return port


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[str]:
    """The broker the integration tests share."""
    with running_broker(tmp_path_factory, pytestconfig) as address:
        yield address


def tolerate_leaked_sockets(config: pytest.Config, ports: list[int]) -> None:
    """Lets the tests pass when kafka-python leaves a socket to one of these broker ports unclosed:
    in the test that runs now, and in the later ones.

    kafka-python 3.0.12 can: a client closed while a request is still in its write buffer, or
    while a connection is being made, cancels the task that would have closed the socket. The
    socket then closes when collected, with a warning that would fail whatever test runs then.
    Unclosed sockets to anything else still fail."""
    for port in ports:
        socket_to_broker = rf"<socket\.socket [^>]*raddr=\('[^']*', {port}\)>"
        for message, category, name in [
            (f"unclosed {socket_to_broker}", ResourceWarning, "ResourceWarning"),
            (
                f"Exception ignored in. {socket_to_broker}",
                pytest.PytestUnraisableExceptionWarning,
                "pytest.PytestUnraisableExceptionWarning",
            ),
        ]:
            warnings.filterwarnings("ignore", message, category)
            config.addinivalue_line("filterwarnings", f"ignore:{message}:{name}")


class BrokerProcess:
    """A one-node KRaft broker on free ports with its data in `data_dir`, started and stopped
    through the README's own script; stopping and starting again keeps its data."""

    def __init__(
        self, data_dir: Path, config: pytest.Config, nodes: int = 1, sasl: bool = False
    ) -> None:
        port = free_port(2 * nodes)  # node N takes port + 2(N-1) and the port after it
        self.data_dir = data_dir
        self.env = {
            **os.environ,
            "KAFKA_PORT": str(port),
            "KAFKA_DATA_DIR": str(data_dir),
            "KAFKA_NODES": str(nodes),
            "KAFKA_SASL": "1" if sasl else "0",
        }
        client_ports = [port + 2 * node for node in range(nodes)]
        self.address = ",".join(f"localhost:{client_port}" for client_port in client_ports)
        tolerate_leaked_sockets(config, client_ports)

    def start(self) -> None:
        started = subprocess.run(
            [str(BROKER_SH), "start"], env=self.env, capture_output=True, text=True, check=False
        )
        assert started.returncode == 0, started.stderr
        assert started.stdout.strip() == self.address, started.stdout

    def stop(self) -> None:
        subprocess.run([str(BROKER_SH), "stop"], env=self.env, check=False)

    def __enter__(self) -> BrokerProcess:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def pid(self, node: int) -> int:
        """The process id of node `node` (1-based) of a cluster."""
        return int((self.data_dir / f"node-{node}" / "broker.pid").read_text())


@contextlib.contextmanager
def running_broker(
    tmp_path_factory: pytest.TempPathFactory, config: pytest.Config
) -> Iterator[str]:
    """A one-node KRaft broker on free ports, in a fresh data directory."""
    with BrokerProcess(tmp_path_factory.mktemp("kafka"), config) as process:
        yield process.address


@pytest.fixture
def aduan_env(broker: str, tmp_path: Path) -> dict[str, str]:
    """Environment for `aduan` commands against the test broker, with a private worker."""
    return aduan_environment(broker, tmp_path)


def aduan_environment(broker: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ADUAN_BROKER": broker,
        "ADUAN_AGENCIES": str(ROOT / "deploy" / "agencies.yaml"),
        "ADUAN_WORKER_DIR": str(tmp_path / "worker"),
        "ADUAN_WEB_PORT": str(free_port()),
        "ADUAN_PRODUCER_WEB_PORT": str(free_port()),
    }


class Worker:
    """An `aduan worker` process that can be stopped and started again."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        start = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:  # a restart appends: the log keeps every run
            out.write(b"--- aduan worker ---\n")
            out.flush()
            self.process = subprocess.Popen(
                ["aduan", "worker"], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 90
        while b"Worker]: Ready" not in self.log.read_bytes()[start:]:
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, "not ready in 90 s:\n" + self.log.read_text()
            time.sleep(0.5)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


@pytest.fixture
def worker_process(aduan_env: dict[str, str], tmp_path: Path) -> Iterator[Worker]:
    """A running `aduan worker`."""
    process = Worker(aduan_env, tmp_path / "worker.log")
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def worker(worker_process: Worker) -> Path:
    """A running `aduan worker`; the path of its log."""
    return worker_process.log
