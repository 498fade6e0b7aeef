"""`aduan replay` on a real broker: three sets of mentions an hour apart in `mentions.raw`, routed
by a live worker; replays of the middle hour must re-route exactly its posts, diff a registry
change against what the worker emitted, and leave the worker's committed offsets alone."""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from agents.core.cases import CaseBook
from agents.core.registry import Registry, load_registry
from agents.core.route import Router
from agents.core.split import split_line
from agents.core.verify import VerificationPolicy
from agents.core.workdays import load_calendar
from schemas.topics import CASES_TOPIC, RAW_TOPIC
from streams.kafka.admin import count_messages, topic_specs
from streams.kafka.connection import ThreadPartitioner
from streams.settings import Settings
from tests.integration.conftest import ROOT, Worker, free_port, running_broker
from tests.integration.test_pipeline import Message, aduan, comparable, read_all, records_until_end

pytestmark = pytest.mark.integration

REGISTRY = ROOT / "deploy" / "agencies.yaml"
HOUR_MS = 3_600_000
Post = tuple[bytes | None, bytes]


@dataclass
class History:
    env: dict[str, str]
    first: str
    """When the first post was sent."""
    since: str
    until: str
    window_posts: list[Post]
    """The posts of the middle hour, as sent."""
    late_start: str
    """Start of a bigger set sent after the worker stopped (for the Ctrl-C test)."""
    late_posts: int


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[str]:
    """A broker of its own: time windows need timestamps that only grow along the log."""
    with running_broker(tmp_path_factory, pytestconfig) as address:
        yield address


def synthetic(env: dict[str, str], count: int, seed: int) -> list[Post]:
    lines = aduan(env, "synthetic", "--count", str(count), "--seed", str(seed)).encode()
    return [post for line in lines.splitlines() for post in split_line(line)]


def send(broker: str, posts: list[Post], first_ms: int) -> None:
    """Send `posts` with CreateTimes 10 ms apart from `first_ms`, keyed as `aduan produce` keys
    them."""
    producer = KafkaProducer(bootstrap_servers=broker, acks="all", partitioner=ThreadPartitioner())
    for index, (key, value) in enumerate(posts):
        producer.send(RAW_TOPIC, key=key, value=value, timestamp_ms=first_ms + 10 * index)
    producer.flush()
    producer.close()


def iso(milliseconds: int) -> str:
    return datetime.fromtimestamp(milliseconds / 1000, UTC).isoformat()


def route(
    registry: Registry, posts: list[Post], *, cases: bool = False
) -> list[tuple[str, str | None, Any]]:
    """What the worker emits for `posts`, or (`cases`) what a replay of them in one process
    writes, the cases as of now included."""
    book = None
    if cases:
        now = datetime.now(UTC)
        book = CaseBook(registry, load_calendar(ROOT / "deploy" / "calendar.yaml"), lambda: now)
    router = Router(registry, VerificationPolicy(), set(), book)
    return [emit for _, value in posts for emit in router.route_line(value)]


def output_topics(env: dict[str, str], registry: Registry, prefix: str = "") -> list[str]:
    settings = Settings.from_env(env)
    return [
        prefix + spec.name
        for spec in topic_specs(settings, registry)
        if spec.name.startswith(("complaints.", "mentions.")) and spec.name != RAW_TOPIC
    ]


def committed(broker: str) -> dict[int, int | None]:
    """The worker's committed offset of each mentions.raw partition (fetched, not joined)."""
    consumer = KafkaConsumer(bootstrap_servers=broker, group_id="aduan", enable_auto_commit=False)
    try:
        partitions = sorted(consumer.partitions_for_topic(RAW_TOPIC) or ())
        offsets = {p: consumer.committed(TopicPartition(RAW_TOPIC, p)) for p in partitions}
        assert any(offsets.values()), "the worker committed nothing: the check would be empty"
        return offsets
    finally:
        consumer.close()


@pytest.fixture(scope="module")
def history(broker: str, tmp_path_factory: pytest.TempPathFactory) -> History:
    tmp = tmp_path_factory.mktemp("replay")
    env = {
        **os.environ,
        "ADUAN_BROKER": broker,
        "ADUAN_AGENCIES": str(REGISTRY),
        "ADUAN_WORKER_DIR": str(tmp / "worker"),
        "ADUAN_WEB_PORT": str(free_port()),
        "ADUAN_PRODUCER_WEB_PORT": str(free_port()),
    }
    aduan(env, "topics", "create")
    registry = load_registry(REGISTRY)
    sets = [synthetic(env, 120, seed) for seed in (301, 302, 303)]
    start = int(time.time() * 1000) - 6 * HOUR_MS
    for hour, posts in enumerate(sets):
        send(broker, posts, start + hour * HOUR_MS)
    expected = len(route(registry, [post for posts in sets for post in posts]))
    worker = Worker(env, tmp / "worker.log")
    worker.start()
    try:
        deadline = time.monotonic() + 120
        while sum(count_messages(Settings.from_env(env), output_topics(env, registry)).values()) < (
            expected
        ):
            assert time.monotonic() < deadline, "the worker did not route every post in 120 s"
            time.sleep(1)
    finally:
        worker.stop()
    late_start = start + 4 * HOUR_MS
    late = synthetic(env, 60_000, 304)
    send(broker, late, late_start)
    window = iso(start + HOUR_MS), iso(start + 2 * HOUR_MS)
    return History(env, iso(start), *window, sets[1], iso(late_start), len(late))


def replay(history: History, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = ["aduan", "replay", "--since", history.since, "--until", history.until, *args]
    result = subprocess.run(
        command, env=history.env, capture_output=True, text=True, check=False, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return result


def comparable_lines(path: Path) -> Counter[Message]:
    return Counter(
        comparable(line["topic"], line["key"], line["value"])
        for line in map(orjson.loads, path.read_bytes().splitlines())
    )


def test_replay_reroutes_exactly_the_window_and_twice_the_same(
    history: History, tmp_path: Path
) -> None:
    offsets = committed(history.env["ADUAN_BROKER"])
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    replay(history, tmp_path, "--output", str(first))
    replay(history, tmp_path, "--output", str(second))

    expected = Counter(
        comparable(*emit)
        for emit in route(load_registry(REGISTRY), history.window_posts, cases=True)
    )
    assert comparable_lines(first) == expected
    assert first.read_bytes() == second.read_bytes()
    assert committed(history.env["ADUAN_BROKER"]) == offsets


def test_replay_diff_reports_a_registry_change_against_the_live_routing(
    history: History, tmp_path: Path
) -> None:
    registry = yaml.safe_load(REGISTRY.read_text())
    agencies = {agency["id"]: agency for agency in registry["agencies"]}
    agencies["pemprov-jateng"]["accounts"] += agencies.pop("dishub-jateng")["accounts"]
    registry["agencies"] = list(agencies.values())
    changed = tmp_path / "agencies.yaml"
    changed.write_text(yaml.safe_dump(registry))

    result = replay(
        history, tmp_path, "--agencies", str(changed), "--output", "/dev/null", "--diff"
    )

    # The middle hour's 120 posts (seed 302), as the worker decided them: 52 rejected (28 of
    # them the agencies' answers), 4 unrouted, the rest to one agency or two. Eight mention
    # @dishubjateng: one by an unverified author and one retweet are rejected either way; five
    # complaints and one follow-up address dishub-jateng alone: those six move to
    # pemprov-jateng. The three answers @dishubjateng posts stay agency posts, now of
    # pemprov-jateng. No other routing changes.
    assert result.stdout.strip() == (
        "routing diff: 120 posts compared, 6 routed differently\n"
        "  agency                          live  replay  gained    lost  moved in moved out\n"
        "  bpk-jateng                         5       5       0       0         0         0\n"
        "  dinkes-jateng                      5       5       0       0         0         0\n"
        "  disdikbud-jateng                   5       5       0       0         0         0\n"
        "  dishub-jateng                      6       0       0       0         0         6\n"
        "  dpubinmarcipka-jateng             16      16       0       0         0         0\n"
        "  kejati-jateng                     10      10       0       0         0         0\n"
        "  pemprov-jateng                    14      20       0       0         6         0\n"
        "  pt-semarang                        5       5       0       0         0         0\n"
        "  unrouted                           4       4       0       0         0         0\n"
        "  moved dishub-jateng -> pemprov-jateng: 6"
    )


def test_replay_to_shadow_topics_leaves_the_live_topics_alone(
    history: History, tmp_path: Path
) -> None:
    registry = load_registry(REGISTRY)
    broker = history.env["ADUAN_BROKER"]
    live = output_topics(history.env, registry)
    before = count_messages(Settings.from_env(history.env), [RAW_TOPIC, *live])
    offsets = committed(broker)
    replay(history, tmp_path, "--to-topics", "shadow-1")

    shadow = output_topics(history.env, registry, prefix="shadow-1.")
    found = Counter(
        (topic.removeprefix("shadow-1."), key, value)
        for topic, key, value in read_all(broker, shadow)
    )
    routed = route(registry, history.window_posts, cases=True)
    expected = Counter(comparable(*emit) for emit in routed if emit[0] != CASES_TOPIC)
    assert found == expected
    cases: dict[str, Any] = {}
    for record in records_until_end(broker, [f"shadow-1.{CASES_TOPIC}"]):
        cases[record.key.decode()] = orjson.loads(record.value)
    assert cases == {key: case for topic, key, case in routed if topic == CASES_TOPIC}
    assert cases, "the window's complaints opened no case"
    assert count_messages(Settings.from_env(history.env), [RAW_TOPIC, *live]) == before
    assert committed(broker) == offsets


def test_ctrl_c_stops_the_replay_and_says_how_far_it_got(history: History, tmp_path: Path) -> None:
    output = tmp_path / "partial.jsonl"
    parts = tmp_path / "tmp"
    parts.mkdir()
    command = ["aduan", "replay", "--since", history.late_start, "--output", str(output)]
    process = subprocess.Popen(
        command,
        env={**history.env, "TMPDIR": str(parts)},
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not any(path.stat().st_size for path in parts.glob("*/*.jsonl")):
        assert process.poll() is None and time.monotonic() < deadline, "no replay output"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)  # as Ctrl-C on a terminal: to every process
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr

    stopped = {
        int(partition): int(offset)
        for partition, offset in re.findall(r"partition (\d+) at offset (\d+) of", stderr)
    }
    assert stopped, stderr
    since = int(datetime.fromisoformat(history.late_start).timestamp() * 1000)
    read = raw_records(history.env["ADUAN_BROKER"], since, stopped)
    assert 0 < sum(len(posts) for posts in read.values()) < history.late_posts, "not midway"
    registry = load_registry(REGISTRY)
    expected = Counter(
        comparable(*emit) for posts in read.values() for emit in route(registry, posts, cases=True)
    )
    assert comparable_lines(output) == expected
    assert "stopped by Ctrl-C" in stderr


def raw_records(broker: str, since_ms: int, stops: dict[int, int]) -> dict[int, list[Post]]:
    """The posts of each partition of mentions.raw from `since_ms` up to its offset in `stops`."""
    consumer = KafkaConsumer(bootstrap_servers=broker, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(RAW_TOPIC, partition) for partition in sorted(stops)]
        consumer.assign(partitions)
        for tp, found in consumer.offsets_for_times(dict.fromkeys(partitions, since_ms)).items():
            consumer.seek(tp, found.offset if found else stops[tp.partition])
        posts: dict[int, list[Post]] = {tp.partition: [] for tp in partitions}
        while any(consumer.position(tp) < stops[tp.partition] for tp in partitions):
            for tp, records in consumer.poll(timeout_ms=500).items():
                posts[tp.partition] += [
                    (r.key, r.value) for r in records if r.offset < stops[tp.partition]
                ]
        return posts
    finally:
        consumer.close()


def test_report_from_the_live_topics_counts_what_they_hold(
    history: History, tmp_path: Path
) -> None:
    registry = load_registry(REGISTRY)
    broker = history.env["ADUAN_BROKER"]
    out = tmp_path / "report"
    aduan(history.env, "report", "--since", history.first, "--out", str(out))

    held = read_all(broker, output_topics(history.env, registry))
    complaints = {value for topic, _, value in held if topic.startswith("complaints.")}
    rejections = [value for topic, _, value in held if topic == "mentions.rejected"]

    def column(name: str, field: str) -> int:
        with (out / f"{name}.csv").open() as handle:
            return sum(int(row[field]) for row in csv.DictReader(handle))

    assert column("complaints_per_day", "complaints") == len(complaints) > 0
    assert column("rejections_per_day", "rejections") == len(rejections) > 0
    # every mention since --since is in the window, so every complaint has a latency
    assert column("latency", "complaints") == len(complaints)
    assert (out / "latency.png").read_bytes().startswith(b"\x89PNG")
