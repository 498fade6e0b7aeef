"""Every metric the alerts and the dashboard query is one the code exports, every alert is
unit-tested, and the dashboard covers each area of the pipeline."""

from __future__ import annotations

import re
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any, cast

import faust
import pytest
from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector

from agents.case_metrics import CaseMetrics
from agents.route_metrics import RoutingMetrics
from streams.compat.sensors import faust_sensors
from streams.delivery.webhook_metrics import WebhookMetrics
from streams.metrics.producer import ProducerMetrics
from streams.worker.web import ConsumerLag
from tests.unit.deploy.deploy_files import (
    ALERTS_TEST,
    DASHBOARD,
    DASHBOARD_PROVIDERS,
    DATASOURCES,
    ROOT,
    alerts,
    dashboard,
    dashboard_exprs,
    load_yaml,
    panels,
    rules,
)

# Series names a family of each type exposes. `_created` is left out: both processes disable
# it (streams.metrics.registry.new_registry), so a query reading it would find nothing.
SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
    "info": ("_info",),
    "stateset": ("",),
    "unknown": ("",),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
}
# Series Prometheus itself writes for each target.
BUILTIN = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
KEYWORDS |= {"and", "or", "unless", "atan2", "inf", "nan"}

STRINGS = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
MATCHERS = re.compile(r"\{[^}]*\}")
RANGES = re.compile(r"\[[^\]]*\]")
# `sum by (le)`, `on (job, instance)`, `group_left (x)`: label lists, not metrics.
LABEL_LISTS = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
# Not preceded by a word character, `.` or `:` so durations (10m) and numbers (1e3) are skipped.
IDENTIFIER = re.compile(r"(?<![\w.:$])[a-zA-Z_:][a-zA-Z0-9_:]*")


class _FakeConsumer:
    def assignment(self) -> set[Any]:
        return set()


class _FakeApp:
    """Just enough of a faust.App for ConsumerLag.collect(): no partitions assigned."""

    consumer = _FakeConsumer()
    monitor = SimpleNamespace(tp_committed_offsets={}, tp_read_offsets={})


def _series_names(registry: CollectorRegistry) -> set[str]:
    """Derived from family name and type: a labelled metric with no children yet has no
    samples, but its series will exist in production."""
    return {
        family.name + suffix for family in registry.collect() for suffix in SUFFIXES[family.type]
    }


def exported() -> set[str]:
    worker = CollectorRegistry()
    RoutingMetrics(worker)
    CaseMetrics(worker)
    faust_sensors(worker)
    worker.register(ConsumerLag(cast(faust.App, _FakeApp()), "mentions.raw"))
    producer = CollectorRegistry()
    ProducerMetrics(producer, "file")
    deliver = CollectorRegistry()
    WebhookMetrics(deliver)
    for registry in (worker, producer, deliver):
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
    return _series_names(worker) | _series_names(producer) | _series_names(deliver)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, keywords and labels left out)."""
    expr = STRINGS.sub('""', expr)
    expr = MATCHERS.sub("{}", expr)
    expr = RANGES.sub("", expr)
    expr = LABEL_LISTS.sub(" ", expr)
    names = set()
    for match in IDENTIFIER.finditer(expr):
        rest = expr[match.end() :].lstrip()
        if rest.startswith("("):  # a function or an aggregation
            continue
        if match.group() not in KEYWORDS:
            names.add(match.group())
    return names


def _used(exprs: Iterable[str]) -> set[str]:
    return set().union(*(metric_names(expr) for expr in exprs))


RECORDED = {rule["record"] for rule in rules() if "record" in rule}


def _unknown(exprs: Iterable[str]) -> set[str]:
    return _used(exprs) - exported() - RECORDED - BUILTIN


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (le) (rate(a_bucket{job="x"}[5m]))', {"a_bucket"}),
        ("time() - max(b) > on() group_left c:d", {"b", "c:d"}),
        ("deriv(sum(e)[10m:1m]) > 0 and f offset 10m", {"e", "f"}),
        ('g == 0 and on (job, instance) h{source="x-stream"}', {"g", "h"}),
        ("histogram_quantile(0.99, sum(rate(i[$__rate_interval])) by (le)) > 1e3", {"i"}),
        ("vector(900)", set()),
    ],
)
def test_metric_names_are_extracted(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_the_export_list_is_complete() -> None:
    """A check of the check: if this list came up short, every query would look wrong."""
    assert {
        "aduan_mentions_total",
        "aduan_route_latency_seconds_bucket",
        "aduan_consumer_lag_messages",
        "aduan_x_checkpoint_timestamp_seconds",
        "aduan_x_posts_read_total",
        "aduan_x_posts_read_this_month",
        "aduan_x_posts_read_monthly_budget",
        "faust_total_events_total",
        "process_start_time_seconds",
        "python_info",
    } <= exported()


def test_rules_query_exported_metrics() -> None:
    unknown = _unknown(rule["expr"] for rule in rules())
    assert not unknown, f"alerts.yml queries metrics no aduan process exports: {sorted(unknown)}"


def test_dashboard_queries_exported_metrics() -> None:
    unknown = _unknown(dashboard_exprs())
    assert not unknown, f"aduan.json queries metrics no aduan process exports: {sorted(unknown)}"


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    cases = [case for test in load_yaml(ALERTS_TEST)["tests"] for case in test["alert_rule_test"]]
    fires = {case["alertname"] for case in cases if case.get("exp_alerts")}
    quiet = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    names = {alert["alert"] for alert in alerts()}
    assert names - fires == set(), "alerts with no test where they fire"
    assert names - quiet == set(), "alerts with no test where they must not fire"


def test_every_alert_has_severity_and_runbook() -> None:
    for alert in alerts():
        name = alert["alert"]
        assert alert["labels"]["severity"] in {"critical", "warning"}, name
        assert {"summary", "description", "runbook"} <= set(alert["annotations"]), name
        assert alert["annotations"]["runbook"] == f"docs/operations.md#alert-{name.lower()}"


def test_dashboard_covers_each_area() -> None:
    used = _used(dashboard_exprs())
    areas = {
        "throughput by outcome": "aduan_mentions_total",
        "routed by agency": "aduan_complaints_routed_total",
        "rejection reasons": "aduan_rejections_total",
        "route latency": "aduan_route_latency_seconds_bucket",
        "consumer lag": "aduan_consumer_lag_messages",
        "posts fetched": "aduan_producer_posts_fetched_total",
        "posts produced": "aduan_producer_posts_produced_total",
        "producer errors": "aduan_producer_errors_total",
        "X API errors": "aduan_x_api_errors_total",
        "stream connected": "aduan_x_stream_connected",
        "checkpoint age": "aduan_x_checkpoint_timestamp_seconds",
        "X posts read this month": "aduan_x_posts_read_this_month",
        "X posts budget": "aduan_x_posts_read_monthly_budget",
        "cases opened": "aduan_cases_opened_total",
        "cases answered": "aduan_cases_answered_total",
        "open cases": "aduan_cases_open",
        "overdue cases": "aduan_cases_overdue",
        "working days to answer": "aduan_case_working_days_to_answer_bucket",
        "registry version": "aduan_registry_info",
        "registry agencies": "aduan_registry_agencies",
        "worker and producer up": "up",
    }
    missing = {area for area, metric in areas.items() if metric not in used}
    assert not missing, f"the dashboard has no panel for: {sorted(missing)}"


def test_dashboard_uses_the_provisioned_datasource() -> None:
    (source,) = load_yaml(DATASOURCES)["datasources"]
    for panel in panels(dashboard()):
        for item in (panel, *panel.get("targets", [])):
            if "datasource" in item:
                assert item["datasource"] == {"type": "prometheus", "uid": source["uid"]}, panel


def test_dashboard_provider_points_at_the_dashboard() -> None:
    """Relative to the repository root, where Grafana must be started for the path to hold."""
    (provider,) = load_yaml(DASHBOARD_PROVIDERS)["providers"]
    assert ROOT / provider["options"]["path"] == DASHBOARD.parent


def test_every_runbook_link_has_its_anchor_in_the_operations_guide() -> None:
    guide = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    for alert in alerts():
        anchor = alert["annotations"]["runbook"].removeprefix("docs/operations.md#")
        assert f'<a id="{anchor}"></a>' in guide, f"no runbook for {alert['alert']}"
