"""`streams.producer.http`: the producer's endpoints."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

import pytest

from agents.core.errors import ConfigError
from streams.metrics.producer import ProducerMetrics
from streams.metrics.registry import new_registry
from streams.producer.http import serve


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://localhost:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        port: int = sock.getsockname()[1]
        return port


def test_endpoints_serve_metrics_health_and_readiness() -> None:
    metrics = ProducerMetrics(new_registry(), "file")
    metrics.fetched.inc(3)
    ready = [False]
    port = free_port()
    server = serve(port, metrics.registry, lambda: ready[0])
    try:
        status, body = get(port, "/metrics")
        assert status == 200
        assert 'aduan_producer_posts_fetched_total{source="file"} 3.0' in body
        assert "process_cpu_seconds_total" in body
        assert "_created" not in body
        assert get(port, "/healthz")[0] == 200
        assert get(port, "/readyz")[0] == 503
        ready[0] = True
        assert get(port, "/readyz")[0] == 200
        assert get(port, "/nothing")[0] == 404
    finally:
        server.shutdown()
        server.server_close()


def test_a_busy_port_is_a_config_error_naming_the_setting() -> None:
    metrics = ProducerMetrics(new_registry(), "file")
    with socket.socket() as taken:
        taken.bind(("localhost", 0))
        taken.listen()
        with pytest.raises(ConfigError, match="ADUAN_PRODUCER_WEB_PORT"):
            serve(taken.getsockname()[1], metrics.registry, lambda: True)
