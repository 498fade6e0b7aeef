"""`streams.metrics.producer`: what the producer counts."""

from __future__ import annotations

from streams.metrics.producer import ProducerMetrics
from streams.metrics.registry import new_registry


def test_x_api_statuses_are_counted_and_429_is_a_rate_limit_wait() -> None:
    metrics = ProducerMetrics(new_registry(), "x-poll")
    for status in (200, 429, 503, 429):
        metrics.http_status(status)
    registry = metrics.registry
    assert registry.get_sample_value("aduan_x_api_errors_total", {"status": "429"}) == 2
    assert registry.get_sample_value("aduan_x_api_errors_total", {"status": "503"}) == 1
    assert registry.get_sample_value("aduan_x_api_errors_total", {"status": "200"}) is None
    assert registry.get_sample_value("aduan_x_rate_limit_waits_total") == 2
