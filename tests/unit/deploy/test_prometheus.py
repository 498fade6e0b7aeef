"""The shipped Prometheus files pass promtool: the config, the rules, the alerts' unit tests, and
the dashboard's queries parse as PromQL."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.unit.deploy.deploy_files import ALERTS, ALERTS_TEST, CONFIG, ROOT, dashboard_exprs

# Grafana's interval variables are not PromQL; any duration stands in for them when parsing.
GRAFANA_VARIABLE = re.compile(r"\$\{?__(?:rate_interval|interval|range)\}?")


def _promtool(*args: str) -> None:
    """Runs promtool from the repository root and fails with its output unless it succeeds."""
    promtool = shutil.which("promtool")
    if promtool is None:
        # A missing promtool must not pass silently as a skip: the files would go unchecked.
        pytest.fail("promtool is not installed: run deploy/setup.sh (installs Debian's prometheus)")
    result = subprocess.run(
        [promtool, *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, (
        f"promtool {' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
    )


def test_config_is_valid() -> None:
    _promtool("check", "config", str(CONFIG.relative_to(ROOT)))


def test_rules_are_valid() -> None:
    _promtool("check", "rules", str(ALERTS.relative_to(ROOT)))


def test_alert_unit_tests_pass() -> None:
    _promtool("test", "rules", str(ALERTS_TEST.relative_to(ROOT)))


def test_dashboard_queries_parse(tmp_path: Path) -> None:
    """promtool has no plain expression check, but checking rules parses each rule's expr."""
    exprs = dashboard_exprs()
    assert exprs
    rules = [
        {"record": f"dashboard_query_{number}", "expr": GRAFANA_VARIABLE.sub("5m", expr)}
        for number, expr in enumerate(exprs)
    ]
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    _promtool("check", "rules", str(path))
