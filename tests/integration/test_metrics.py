"""Metrics on real parts: a Prometheus server with the shipped scrape config and alert rules
scrapes a running worker and producer; its query API must show the routing outcome that
`aduan route` computes offline for the same mentions."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest
import yaml

from agents.route_metrics import OUTCOMES
from schemas.topics import DEAD_LETTER_TOPIC, REJECTED_TOPIC, UNROUTED_TOPIC
from tests.integration.conftest import ROOT, free_port, running_broker

pytestmark = pytest.mark.integration

PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
GARBAGE = b'{"data": {"id": 17}}\n'


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[str]:
    """A broker of its own: the counters must see only this test's mentions, and the other
    tests must not see them either."""
    with running_broker(tmp_path_factory, pytestconfig) as address:
        yield address


@pytest.fixture
def prometheus(aduan_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """Prometheus with the shipped config, pointed at this test's ports and scraping every
    second; returns its base URL."""
    if shutil.which("prometheus") is None:
        pytest.fail("prometheus is not installed: run deploy/setup.sh (Debian's package)")
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"] |= {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(PROMETHEUS_DIR / name) for name in config["rule_files"]]
    ports = {
        "aduan-worker": aduan_env["ADUAN_WEB_PORT"],
        "aduan-producer": aduan_env["ADUAN_PRODUCER_WEB_PORT"],
        # Not started here: their targets stay down, which no rule of this test reads.
        "aduan-serve": str(free_port()),
        "aduan-deliver": str(free_port()),
    }
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [f"localhost:{ports[job['job_name']]}"]}]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    address = f"localhost:{free_port()}"
    with (tmp_path / "prometheus.log").open("wb") as log:
        server = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address={address}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://{address}"
    try:
        wait_for(lambda: http_get(f"{url}/-/ready")[0] == 200, "Prometheus ready")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def wait_for(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def query(prometheus: str, promql: str) -> dict[str, float]:
    """An instant query's result: the value by the series' first label value ('' if none)."""
    status, body = http_get(f"{prometheus}/api/v1/query?query={quote(promql)}")
    assert status == 200, body
    result = orjson.loads(body)["data"]["result"]
    return {next(iter(item["metric"].values()), ""): float(item["value"][1]) for item in result}


def expected_outcome(env: dict[str, str], source: Path) -> tuple[Counter[str], Counter[str]]:
    """Mentions by outcome and complaints by agency, counted from `aduan route`'s output."""
    routed = subprocess.run(
        ["aduan", "route", "--no-cases", "--input", str(source)],
        env=env,
        capture_output=True,
        check=True,
    ).stdout
    outcomes: Counter[str] = Counter()
    agencies: Counter[str] = Counter()
    routed_posts: set[str] = set()
    for line in routed.splitlines():
        event: dict[str, Any] = orjson.loads(line)
        topic, value = event["topic"], event["value"]
        if topic == DEAD_LETTER_TOPIC:
            outcomes["dead_letter"] += 1
        elif topic == REJECTED_TOPIC:
            outcomes["rejected"] += 1
        elif topic == UNROUTED_TOPIC:
            outcomes["unrouted"] += 1
            agencies["unrouted"] += 1
        else:
            routed_posts.add(value["tweet_id"])
            agencies[value["agency_id"]] += 1
    outcomes["routed"] = len(routed_posts)
    return outcomes, agencies


def test_prometheus_sees_the_routing_outcome(
    aduan_env: dict[str, str], worker: Path, prometheus: str, tmp_path: Path
) -> None:
    worker_url = f"http://localhost:{aduan_env['ADUAN_WEB_PORT']}"
    assert http_get(f"{worker_url}/healthz")[0] == 200
    wait_for(lambda: http_get(f"{worker_url}/readyz")[0] == 200, "worker ready")

    # Synthetic mentions and one line that cannot be a post.
    source = tmp_path / "mentions.jsonl"
    synthetic = subprocess.run(
        ["aduan", "synthetic", "--count", "150", "--seed", "4004"],
        env=aduan_env,
        capture_output=True,
        check=True,
    ).stdout
    source.write_bytes(synthetic + GARBAGE)
    outcomes, agencies = expected_outcome(aduan_env, source)
    posts = sum(outcomes.values())

    # The worker's series exist from its start, at 0: the broker is this test's own.
    wait_for(
        lambda: query(prometheus, 'sum(aduan_mentions_total{job="aduan-worker"})') == {"": 0.0},
        "Prometheus scraping the fresh worker",
    )

    log = tmp_path / "producer.log"
    with log.open("wb") as out:
        producer = subprocess.Popen(
            ["aduan", "produce", "--file", "-"],
            env=aduan_env,
            stdin=subprocess.PIPE,
            stderr=out,
        )
    assert producer.stdin is not None
    try:
        producer.stdin.write(source.read_bytes())
        producer.stdin.flush()
        # The producer stays up while its input is open, so Prometheus scrapes it.
        wait_for(
            lambda: (
                query(
                    prometheus,
                    'sum(aduan_producer_posts_produced_total{job="aduan-producer",source="file"})',
                )
                == {"": float(posts)}
            ),
            "the producer's acknowledged posts in Prometheus",
        )
        producer_url = f"http://localhost:{aduan_env['ADUAN_PRODUCER_WEB_PORT']}"
        assert http_get(f"{producer_url}/readyz")[0] == 200
    finally:
        producer.stdin.close()
        assert producer.wait(timeout=60) == 0, log.read_text()

    wanted = {outcome: float(outcomes[outcome]) for outcome in OUTCOMES}
    wait_for(
        lambda: query(prometheus, "sum by (outcome) (aduan_mentions_total)") == wanted,
        f"mentions by outcome == {wanted}",
    )
    by_agency = query(prometheus, "sum by (agency) (aduan_complaints_routed_total)")
    assert by_agency == {agency: float(agencies[agency]) for agency in by_agency}
    assert set(agencies) <= set(by_agency)
    # Observed when the broker acknowledges an event, after it was counted as routed: a scrape
    # between the two saw one fewer in a CI run.
    wait_for(
        lambda: (
            query(prometheus, "sum(aduan_route_latency_seconds_count)")[""]
            >= sum(agencies.values())
        ),
        "a routing latency observed for every complaint",
    )
    # Faust's own sensors, which the dashboard reads too: one stream event per post.
    assert query(prometheus, "sum(faust_total_events_total)") == {"": float(posts)}
    # The garbage line is a dead letter, and the shipped alert rule sees it.
    wait_for(
        lambda: (
            "AduanDeadLetters"
            in {
                alert["labels"]["alertname"]
                for alert in orjson.loads(http_get(f"{prometheus}/api/v1/alerts")[1])["data"][
                    "alerts"
                ]
            }
        ),
        "the AduanDeadLetters alert",
    )
