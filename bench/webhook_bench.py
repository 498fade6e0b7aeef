"""`aduan deliver`: deliveries a second to a local receiver, and the other agencies' delivery
latency while one agency's endpoint is down.

    python3 bench/webhook_bench.py [--events 40000] [--rate 200] [--seconds 30] [--rounds 2]
        [--down kejati-jateng] [--retry-seconds 5]

Starts its own broker (pipeline_bench.own_broker) and, in a process of its own, a receiver: an
aiohttp server with a webhook for every agency of the registry that checks each request's
signature, answers 204 and notes when the event arrived. The events are those `aduan route`
writes for `aduan synthetic`'s mentions that a webhook receives: the agencies' complaints and
every case state.

1. Throughput. --events events are written to the complaint topics and `cases`, then `aduan
   deliver` starts and delivers them; deliveries a second are the events over the time from the
   receiver's first arrival to its last. Baseline, in each round: a bare aiohttp client in a
   process of its own POSTs the same bodies, signed, to the same receiver, one request in flight
   per agency as aduan's lanes. Also each sender's CPU time per 1,000 deliveries and how busy
   the receiver was. Before each round after the first, the group `aduan-webhooks` is deleted,
   so that `aduan deliver` reads the same events again.
2. One endpoint down. Events are written at --rate a second for --seconds while `aduan deliver`
   runs, once with every endpoint up and once with the --down agency's webhook on a port where
   nothing listens (connections refused), each run with a new `aduan deliver` and the registry
   published for it. ADUAN_WEBHOOK_RETRY_SECONDS is --retry-seconds, so that the down agency's
   events go to webhooks.dlq. Latency: from each event's record timestamp to its arrival at the
   receiver, for the other agencies' events. Each run checks that every event written was
   delivered, dead-lettered or is still pending, none lost.

Each round runs the two sides in turn, the first side alternating. `others` is the CPU the
machine spent meanwhile on processes that are neither the benchmark's nor the broker's, in cores
(within about 0.05 of zero: none, as the kernel counts per process and per machine apart): a
figure measured while it is high was measured on a busy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml
from aiohttp import web
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from pipeline_bench import AGENCIES, cpu_ticks, free_port, own_broker
from prometheus_client.parser import text_string_to_metric_families

from agents.core.registry import load_registry
from schemas.topics import CASES_TOPIC, WEBHOOK_DEAD_LETTER_TOPIC, WEBHOOKS_GROUP, complaint_topic
from streams.delivery.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, delivery_of, sign, verify
from streams.delivery.webhooks import TOPICS

Event = tuple[str, bytes | None, bytes | None]
"""A record to write: topic, key, value (None: a tombstone)."""
Arrival = tuple[str, str, float]
"""An event received: agency, event id, when (Unix seconds)."""

SETTLE = 1.0
"""Seconds between `aduan deliver` being ready and the first event of a latency run, so that the
first events meet a running consumer rather than one still starting."""


# The receiver, in a process of its own.


def _receiver(port: int, keys: dict[str, bytes]) -> None:
    web.run_app(_receiver_app(keys), host="127.0.0.1", port=port, print=None, access_log=None)


def _receiver_app(keys: dict[str, bytes]) -> web.Application:
    arrivals: list[Arrival] = []
    seen: set[str] = set()
    forged = Counter[str]()

    async def hook(request: web.Request) -> web.Response:
        agency = request.match_info["agency"]
        body = await request.read()
        now = time.time()
        if not verify(keys[agency], body, request.headers.get(SIGNATURE_HEADER, ""), now):
            forged[agency] += 1
            return web.Response(status=400)
        event_id = request.headers[EVENT_ID_HEADER]
        arrivals.append((agency, event_id, now))
        seen.add(event_id)
        return web.Response(status=204)

    async def count(request: web.Request) -> web.Response:
        return web.Response(text=str(len(seen)))

    async def taken(request: web.Request) -> web.Response:
        return web.Response(
            body=orjson.dumps({"arrivals": arrivals, "forged": sum(forged.values())})
        )

    async def reset(request: web.Request) -> web.Response:
        arrivals.clear()
        seen.clear()
        forged.clear()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook/{agency}", hook)
    app.router.add_get("/count", count)
    app.router.add_get("/arrivals", taken)
    app.router.add_post("/reset", reset)
    return app


class Receiver:
    """The receiver's process, and its control routes."""

    def __init__(self, keys: dict[str, bytes]) -> None:
        self.keys = keys
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        context = multiprocessing.get_context("spawn")
        self.process = context.Process(target=_receiver, args=(self.port, keys), daemon=True)
        self.process.start()
        assert self.process.pid is not None
        self.pid: int = self.process.pid
        deadline = time.monotonic() + 30
        while not self._answers():
            if time.monotonic() > deadline or not self.process.is_alive():
                sys.exit("webhook_bench: the receiver did not start")
            time.sleep(0.1)

    def _answers(self) -> bool:
        try:
            self.count()
        except OSError:
            return False
        return True

    def _call(self, path: str, method: str = "GET") -> bytes:
        request = urllib.request.Request(self.base + path, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            body: bytes = response.read()
            return body

    def count(self) -> int:
        """Distinct event ids received since the last reset."""
        return int(self._call("/count"))

    def arrivals(self) -> tuple[list[Arrival], int]:
        """Every event received since the last reset, and the requests refused as forged."""
        taken = orjson.loads(self._call("/arrivals"))
        return [(a, e, t) for a, e, t in taken["arrivals"]], taken["forged"]

    def reset(self) -> None:
        self._call("/reset", "POST")

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(timeout=30)


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of process `pid` so far (Linux's /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Others:
    """The CPU the machine spent on processes other than `pids` (the benchmark's, the broker's)
    from its creation on, in cores: the noise of a shared machine (Linux's /proc)."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.start = self._sample()

    def _sample(self) -> tuple[float, float, float]:
        ticks = cpu_ticks()  # user, nice, system, idle, iowait, irq, softirq, steal
        busy = (sum(ticks[:3]) + sum(ticks[5:7])) / os.sysconf("SC_CLK_TCK")
        return busy, sum(cpu_seconds(pid) for pid in self.pids), time.monotonic()

    def cores(self) -> float:
        busy, ours, at = self._sample()
        return ((busy - self.start[0]) - (ours - self.start[1])) / (at - self.start[2])


# The events, the registry and the topics.


def routed_events(env: dict[str, str], tmp: Path, needed: int) -> list[Event]:
    """The first `needed` records `aduan route` writes for synthetic mentions that a webhook
    receives, in the order written."""
    count = needed
    while True:
        mentions, routed = tmp / "mentions.jsonl", tmp / "routed.jsonl"
        aduan(env, "synthetic", "--count", str(count), "--seed", "29", "--output", mentions)
        aduan(env, "route", "--input", mentions, "--output", routed)
        events: list[Event] = []
        with routed.open("rb") as lines:
            for line in lines:
                item = orjson.loads(line)
                if TOPICS.fullmatch(item["topic"]):
                    key, value = item["key"], item["value"]
                    events.append(
                        (
                            item["topic"],
                            None if key is None else key.encode(),
                            None if value is None else orjson.dumps(value),
                        )
                    )
        if len(events) >= needed:
            return events[:needed]
        count *= 2


def write_registries(tmp: Path, port: int, keys: dict[str, bytes], down: str) -> tuple[Path, Path]:
    """Two copies of the registry with a webhook for every agency on the receiver's `port`, each
    with its secret from `keys`: in the second, `down`'s on a port where nothing listens."""
    registry = yaml.safe_load(AGENCIES.read_text())
    dead_port = free_port()
    paths = []
    for name, dead in (("up", ""), ("down", down)):
        for agency in registry["agencies"]:
            agency_id = agency["id"]
            secret = tmp / f"{agency_id}.secret"
            secret.write_bytes(keys[agency_id] + b"\n")
            where = dead_port if agency_id == dead else port
            agency["webhook"] = {
                "url": f"http://127.0.0.1:{where}/hook/{agency_id}",
                "secret_file": str(secret),
            }
        path = tmp / f"agencies-{name}.yaml"
        path.write_text(yaml.safe_dump(registry, allow_unicode=True))
        paths.append(path)
    return paths[0], paths[1]


def delivered_topics(agencies: list[str]) -> list[str]:
    return [complaint_topic(agency) for agency in agencies] + [CASES_TOPIC]


def end_offsets(broker: str, topics: list[str]) -> dict[Any, int]:
    consumer = KafkaConsumer(bootstrap_servers=broker, enable_auto_commit=False)
    with closing(consumer):
        partitions = [
            TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()
        ]
        return dict(consumer.end_offsets(partitions))


def read_from(broker: str, starts: dict[Any, int]) -> list[Any]:
    """The records of each partition from its offset in `starts` to its end now."""
    consumer = KafkaConsumer(bootstrap_servers=broker, enable_auto_commit=False)
    with closing(consumer):
        partitions = list(starts)
        consumer.assign(partitions)
        ends = consumer.end_offsets(partitions)
        for tp, offset in starts.items():
            consumer.seek(tp, offset)
        found: list[Any] = []
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            for records in consumer.poll(timeout_ms=500).values():
                found += records
        return found


def produce(producer: KafkaProducer, events: list[Event], rate: float | None = None) -> None:
    """Writes `events`, at `rate` a second if given (each on schedule, whatever came before)."""
    start = time.perf_counter()
    for n, (topic, key, value) in enumerate(events):
        if rate is not None:
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        producer.send(topic, key=key, value=value)
    producer.flush()


def scrape(port: int) -> dict[tuple[str, str, str], float]:
    """`aduan deliver`'s webhook series: (sample name, agency, outcome) -> value."""
    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {
        (s.name, s.labels.get("agency", ""), s.labels.get("outcome", "")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("aduan_webhook_")
    }


class Deliver:
    """`aduan deliver` as a process of its own, once it reads partitions."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = int(env["ADUAN_DELIVER_PORT"])
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                ["aduan", "deliver"], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while not self._ready():
            self.check()
            if time.monotonic() > deadline:
                self.fail("not ready in 60 s")
            time.sleep(0.2)

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=5):
                return True
        except (urllib.error.URLError, ConnectionError):
            return False

    def check(self) -> None:
        if self.process.poll() is not None:
            self.fail(f"exited ({self.process.returncode})")

    def fail(self, why: str) -> None:
        self.process.kill()
        sys.exit(f"webhook_bench: aduan deliver {why}; its log:\n{self.log.read_text()}")

    def stop(self) -> None:
        """SIGTERM, as systemd stops it: it must exit 0."""
        self.process.terminate()
        if self.process.wait(timeout=60) != 0:
            self.fail(f"exited {self.process.returncode} on SIGTERM")


@contextmanager
def deliver(env: dict[str, str], log: Path) -> Iterator[Deliver]:
    process = Deliver(env, log)
    try:
        yield process
    finally:
        if process.process.poll() is None:
            process.stop()


def aduan(env: dict[str, str], *args: str | Path) -> None:
    """Runs an aduan command; quiet unless it fails."""
    done = subprocess.run(["aduan", *args], env=env, capture_output=True, check=False)
    if done.returncode != 0:
        sys.exit(f"webhook_bench: aduan {args[0]} failed:\n{done.stderr.decode()}")


def sync(env: dict[str, str], registry: Path) -> None:
    """Publishes `registry`: what the next `aduan deliver` starts with."""
    aduan({**env, "ADUAN_AGENCIES": str(registry)}, "agencies", "sync")


def wait_until(
    done: Callable[[], bool], what: str, timeout: float, check: Callable[[], None]
) -> None:
    """Polls `done` until true; `check` stops the benchmark if what it waits for has failed."""
    deadline = time.monotonic() + timeout
    while not done():
        check()
        if time.monotonic() > deadline:
            sys.exit(f"webhook_bench: not in {timeout:.0f} s: {what}")
        time.sleep(0.1)


# 1. Throughput.


@dataclass(frozen=True)
class Throughput:
    events: int
    seconds: float
    """From the receiver's first arrival to its last."""
    cpu_ms: float
    """The sender's CPU milliseconds per 1,000 deliveries, from the first delivery seen on."""
    receiver_busy: float
    """The receiver's CPU time over the wall time, over the same span."""
    others: float
    """Cores the machine spent on other processes over the same span."""
    start_seconds: float | None = None
    """From `aduan deliver`'s start to its first delivery."""

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def watch(
    receiver: Receiver, n: int, sender: int, ours: list[int], check: Callable[[], None]
) -> tuple[float, float, float]:
    """Waits for the first delivery, then for all `n`; from the first seen to the last, the
    sender's CPU milliseconds per 1,000 deliveries, the receiver's busy share and the cores
    spent on processes other than the `sender` and `ours`."""
    wait_until(lambda: receiver.count() > 0, "a first delivery", 120, check)
    began, counted = time.monotonic(), receiver.count()
    sender_cpu, receiver_cpu = cpu_seconds(sender), receiver.cpu()
    others = Others([sender, *ours])
    wait_until(lambda: receiver.count() >= n, f"{n} deliveries", 60 + n / 20, check)
    wall = time.monotonic() - began
    sender_ms = (cpu_seconds(sender) - sender_cpu) * 1e6 / max(1, n - counted)
    return sender_ms, (receiver.cpu() - receiver_cpu) / wall, others.cores()


def arrival_span(receiver: Receiver, n: int) -> tuple[float, float]:
    """The first and the last arrival, once each of the `n` events arrived once."""
    arrivals, forged = receiver.arrivals()
    if forged or len(arrivals) != n or len({e for _, e, _ in arrivals}) != n:
        sys.exit(f"webhook_bench: {len(arrivals)} arrivals for {n} events, {forged} forged")
    times = [t for _, _, t in arrivals]
    return min(times), max(times)


def throughput_deliver(
    env: dict[str, str], receiver: Receiver, n: int, ours: list[int], log: Path
) -> Throughput:
    receiver.reset()
    started = time.time()
    with deliver(env, log) as process:
        measured = watch(receiver, n, process.process.pid, ours, process.check)
    first, last = arrival_span(receiver, n)
    return Throughput(n, last - first, *measured, first - started)


def _baseline(base: str, keys: dict[str, bytes], lanes: dict[str, list[tuple[str, bytes]]]) -> None:
    """The bare client, in a process of its own."""
    asyncio.run(_post_all(base, keys, lanes))


async def _post_all(
    base: str, keys: dict[str, bytes], lanes: dict[str, list[tuple[str, bytes]]]
) -> None:
    async def lane(session: aiohttp.ClientSession, agency: str) -> None:
        url = f"{base}/hook/{agency}"
        for event_id, body in lanes[agency]:
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "webhook-bench",
                EVENT_ID_HEADER: event_id,
                SIGNATURE_HEADER: sign(keys[agency], body, int(time.time())),
            }
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status != 204:
                    raise SystemExit(f"webhook_bench: the receiver answered {response.status}")

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(lane(session, agency) for agency in lanes))


def throughput_baseline(
    receiver: Receiver,
    keys: dict[str, bytes],
    lanes: dict[str, list[tuple[str, bytes]]],
    ours: list[int],
) -> Throughput:
    receiver.reset()
    n = sum(len(events) for events in lanes.values())
    context = multiprocessing.get_context("spawn")
    client = context.Process(target=_baseline, args=(receiver.base, keys, lanes))
    client.start()
    assert client.pid is not None

    def check() -> None:
        if client.exitcode not in (None, 0):
            sys.exit(f"webhook_bench: the bare client exited ({client.exitcode})")

    measured = watch(receiver, n, client.pid, ours, check)
    client.join(timeout=60)
    first, last = arrival_span(receiver, n)
    return Throughput(n, last - first, *measured)


def forget_group(broker: str) -> None:
    """Deletes the group `aduan-webhooks`: the next `aduan deliver` reads from the start."""
    admin = KafkaAdminClient(bootstrap_servers=broker)
    with closing(admin):
        for group, result in admin.delete_groups([WEBHOOKS_GROUP]).items():
            if result != "OK":
                sys.exit(f"webhook_bench: deleting group {group}: {result}")


# 2. One endpoint down.


@dataclass(frozen=True)
class LatencyRun:
    down: str
    """The agency whose endpoint refused connections; empty when all were up."""
    waits: list[tuple[float, float]]
    """(record timestamp, seconds from it to the first arrival) of the up agencies' events."""
    written: int
    delivered: int
    """Events written in the run that arrived, counted once."""
    dead_lettered: int
    """Events written in the run found in webhooks.dlq, counted once."""
    pending: int
    """`aduan_webhook_pending_events`, summed, just before the stop."""
    down_written: int
    reasons: Counter[str]
    """Dead letters of the run by agency and reason."""
    repeats: int
    """Arrivals of an event that had arrived already."""
    strays: int
    """Arrivals and dead letters of events this run did not write."""
    others: float
    """Cores the machine spent on other processes while the events were written."""

    def cut(self, percent: int) -> float:
        """The `percent`-th percentile of the latencies, in ms."""
        return statistics.quantiles([w for _, w in self.waits], n=100)[percent - 1] * 1000


def latency_run(
    env: dict[str, str],
    *,
    registry: Path,
    down: str,
    receiver: Receiver,
    events: list[Event],
    args: argparse.Namespace,
    topics: list[str],
    ours: list[int],
    log: Path,
) -> LatencyRun:
    """Events written at `args.rate` while a new `aduan deliver` runs with `registry`; `down`
    names the agency whose webhook it has on a dead port."""
    broker = env["ADUAN_BROKER"]
    sync(env, registry)
    receiver.reset()
    starts = end_offsets(broker, topics)
    dead_starts = end_offsets(broker, [WEBHOOK_DEAD_LETTER_TOPIC])
    producer = KafkaProducer(bootstrap_servers=broker, acks="all", linger_ms=0)
    for topic in topics:
        producer.partitions_for(topic)  # metadata now, not at the first event of each topic
    with closing(producer), deliver(env, log) as process:
        time.sleep(SETTLE)
        others = Others([process.process.pid, *ours])
        produce(producer, events, args.rate)
        noise = others.cores()
        written = [d for d in map(delivery_of, read_from(broker, starts)) if d is not None]
        stamps = {d.event_id: d.timestamp_ms / 1000 for d in written}
        up = sum(1 for d in written if d.agency_id != down)
        wait_until(lambda: receiver.count() >= up, f"{up} deliveries", 120, process.check)

        def dead_lettered() -> bool:
            series = scrape(process.port)
            given_up = series.get(("aduan_webhook_deliveries_total", down, "dead_lettered"), 0)
            return given_up >= len(written) - up

        if down:
            what = f"{len(written) - up} dead letters of {down}"
            wait_until(dead_lettered, what, args.retry_seconds + 120, process.check)
        pending = sum(
            value
            for (name, _, _), value in scrape(process.port).items()
            if name == "aduan_webhook_pending_events"
        )
    arrivals, forged = receiver.arrivals()
    if forged:
        sys.exit(f"webhook_bench: the receiver refused {forged} requests as forged")
    first: dict[str, tuple[str, float]] = {}
    for agency, event_id, at in arrivals:
        if event_id in stamps:
            first.setdefault(event_id, (agency, at))
    letters = [orjson.loads(r.value) for r in read_from(broker, dead_starts)]
    dead_ids = {letter["event"]["id"] for letter in letters}
    return LatencyRun(
        down,
        [(stamps[e], at - stamps[e]) for e, (agency, at) in first.items() if agency != down],
        len(written),
        len(first),
        len(dead_ids & stamps.keys()),
        int(pending),
        len(written) - up,
        Counter(f"{letter['agency_id']} {letter['reason']}" for letter in letters),
        len(arrivals) - len({e for _, e, _ in arrivals}),
        sum(1 for _, e, _ in arrivals if e not in stamps) + len(dead_ids - stamps.keys()),
        noise,
    )


def throughput(
    args: argparse.Namespace,
    bulk: list[Event],
    *,
    env: dict[str, str],
    tmp: Path,
    receiver: Receiver,
    keys: dict[str, bytes],
    up: Path,
    ours: list[int],
) -> None:
    broker = env["ADUAN_BROKER"]
    topics = delivered_topics(list(keys))
    producer = KafkaProducer(bootstrap_servers=broker, acks="all", linger_ms=5)
    with closing(producer):
        produce(producer, bulk)
    lanes: dict[str, list[tuple[str, bytes]]] = {agency: [] for agency in keys}
    for record in read_from(broker, dict.fromkeys(end_offsets(broker, topics), 0)):
        found = delivery_of(record)
        assert found is not None
        lanes[found.agency_id].append((found.event_id, found.body))
    cases = sum(1 for topic, _, _ in bulk if topic == CASES_TOPIC)
    sizes = sorted(len(events) for events in lanes.values())
    print(
        f"throughput: {len(bulk):,} events ({len(bulk) - cases:,} complaints, {cases:,} case "
        f"states) for {len(lanes)} agencies, {sizes[0]:,} to {sizes[-1]:,} each"
    )
    print(
        f"{'round':<6}{'sender':<16}{'events/s':>9}{'CPU ms/1000':>13}{'receiver CPU':>14}"
        f"{'others':>8}"
    )
    sent: list[Throughput] = []
    bare: list[Throughput] = []
    sync(env, up)
    for round_ in range(1, args.rounds + 1):
        # Alternating which goes first: neither always meets the machine as the other left it.
        for sender in ("aduan deliver", "bare aiohttp")[:: 1 if round_ % 2 else -1]:
            if sender == "bare aiohttp":
                bare.append(throughput_baseline(receiver, keys, lanes, ours))
                result = bare[-1]
            else:
                if round_ > 1:
                    forget_group(broker)
                log = tmp / f"deliver-throughput-{round_}.log"
                sent.append(throughput_deliver(env, receiver, len(bulk), ours, log))
                result = sent[-1]
            print(
                f"{round_:<6}{sender:<16}{result.rate:>9,.0f}{result.cpu_ms:>13,.0f}"
                f"{result.receiver_busy:>14.0%}{result.others:>8.2f}"
            )
    for round_, (aduan_, theirs) in enumerate(zip(sent, bare, strict=True), 1):
        print(
            f"round {round_}: aduan deliver {aduan_.rate / theirs.rate:.2f}x the bare client's "
            f"rate, {aduan_.cpu_ms / theirs.cpu_ms:.2f}x its CPU a delivery; its first delivery "
            f"{aduan_.start_seconds:.1f} s after its start"
        )


def latency(
    args: argparse.Namespace,
    paced: list[Event],
    *,
    env: dict[str, str],
    tmp: Path,
    receiver: Receiver,
    registries: tuple[Path, Path],
    ours: list[int],
) -> None:
    topics = delivered_topics(list(receiver.keys))
    per_run = int(args.rate * args.seconds)
    print(
        f"latency: {per_run:,} events a run at {args.rate:g}/s, ADUAN_WEBHOOK_RETRY_SECONDS="
        f"{args.retry_seconds:g}; record timestamp -> arrival, events of the agencies that were up"
    )
    print(
        f"{'round':<6}{'endpoints':<24}{'events':>7}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}"
        f"{'others':>8}"
    )
    runs: dict[tuple[int, str], LatencyRun] = {}
    for round_ in range(1, args.rounds + 1):
        modes = (("", registries[0]), (args.down, registries[1]))
        for down, registry in modes[:: 1 if round_ % 2 else -1]:
            chunk, paced = paced[:per_run], paced[per_run:]
            run = latency_run(
                env,
                registry=registry,
                down=down,
                receiver=receiver,
                events=chunk,
                args=args,
                topics=topics,
                ours=ours,
                log=tmp / f"deliver-latency-{len(runs)}.log",
            )
            runs[round_, down] = run
            endpoints = f"{down} down" if down else "all up"
            print(
                f"{round_:<6}{endpoints:<24}{len(run.waits):>7}{run.cut(50):>8.1f}"
                f"{run.cut(99):>8.1f}{max(w for _, w in run.waits) * 1000:>8.0f}{run.others:>8.2f}"
            )
    for round_ in range(1, args.rounds + 1):
        up, one_down = runs[round_, ""], runs[round_, args.down]
        print(
            f"round {round_}: p99 with {args.down} down {one_down.cut(99) / up.cut(99):.2f}x, "
            f"p50 {one_down.cut(50) / up.cut(50):.2f}x the all-up run's"
        )
    print(
        f"\n{'round':<6}{'endpoints':<24}{'written':>8}{'delivered':>10}{'dead':>6}{'pending':>8}"
        f"{'lost':>6}{'repeats':>8}{'strays':>7}  dead letters"
    )
    for (round_, _), run in runs.items():
        endpoints = f"{run.down} down ({run.down_written})" if run.down else "all up"
        lost = run.written - run.delivered - run.dead_lettered - run.pending
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(run.reasons.items())) or "none"
        print(
            f"{round_:<6}{endpoints:<24}{run.written:>8}{run.delivered:>10}"
            f"{run.dead_lettered:>6}{run.pending:>8}{lost:>6}{run.repeats:>8}{run.strays:>7}  "
            f"{reasons}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--events", type=int, default=40_000, help="events for throughput (0: latency only)"
    )
    parser.add_argument("--rate", type=float, default=200, help="events a second, latency runs")
    parser.add_argument("--seconds", type=float, default=30, help="length of a latency run")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each part")
    parser.add_argument("--down", default="kejati-jateng", help="the agency whose endpoint is down")
    parser.add_argument(
        "--retry-seconds", type=float, default=5, help="ADUAN_WEBHOOK_RETRY_SECONDS"
    )
    args = parser.parse_args()
    agencies = list(load_registry(AGENCIES).agency_ids)
    if args.down not in agencies:
        parser.error(f"--down {args.down!r} is not an agency of {AGENCIES}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load average {os.getloadavg()[0]:.2f} at the start"
    )
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        # The registries name the receiver's port and the secrets: it starts first.
        keys = {agency: secrets.token_hex(16).encode() for agency in agencies}
        receiver = Receiver(keys)
        try:
            registries = write_registries(tmp, receiver.port, keys, args.down)
            extra = {
                "ADUAN_AGENCIES": str(registries[0]),
                "ADUAN_DELIVER_PORT": str(free_port()),
                "ADUAN_WEBHOOK_RETRY_SECONDS": f"{args.retry_seconds:g}",
            }
            with own_broker(name, **extra) as env:
                broker_pid = int((tmp / "kafka" / "broker.pid").read_text())
                ours = [os.getpid(), receiver.pid, broker_pid]
                aduan(env, "topics", "create")
                per_run = int(args.rate * args.seconds)
                events = routed_events(env, tmp, args.events + 2 * args.rounds * per_run)
                bulk, paced = events[: args.events], events[args.events :]
                if bulk:
                    throughput(
                        args,
                        bulk,
                        env=env,
                        tmp=tmp,
                        receiver=receiver,
                        keys=keys,
                        up=registries[0],
                        ours=ours,
                    )
                    print()
                latency(
                    args,
                    paced,
                    env=env,
                    tmp=tmp,
                    receiver=receiver,
                    registries=registries,
                    ours=ours,
                )
        finally:
            receiver.stop()


if __name__ == "__main__":
    main()
