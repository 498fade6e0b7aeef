"""The live pipeline on a local broker: saturated throughput and latency at a fixed rate.

    python3 bench/pipeline_bench.py [--count 200000] [--rate 1000] [--seconds 30]

Starts its own broker (deploy/kafka/broker.sh, free ports, temporary data) and, in the same run:
1. Bare loop: aiokafka consume -> the same Router.route_line -> aiokafka produce (acks=all),
   committing after each batch is acknowledged, over its own copy of the topics: the ceiling for
   this client on this machine. Its input, --count synthetic mentions, is in the topic before it
   starts, so that it runs saturated: a producer sending meanwhile would set the pace instead.
   Throughput is posts / (last routed event's broker timestamp - first routed event's).
2. Faust: `aduan worker` routes the same mentions, measured the same way. With --count 0 it
   routes WARM_UP_POSTS first, not measured, so that the latency run does not meet a broker
   that has just started.
3. Latency: posts produced at --rate for --seconds through the Faust worker; for each routed
   event, the time from the post's send to the event being read by a subscriber. The percentiles
   leave out the posts of the first second (WARM_UP) and print the p99 with them too, and the
   machine's CPU steal during the run.
4. The same for the bare loop, the worker stopped: fresh posts through `mentions.raw` into the
   worker's own topics, read by the same subscriber. It is the baseline for the latency figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from agents.core.registry import Registry, load_registry
from agents.core.route import Router
from agents.core.split import split_line
from agents.core.verify import VerificationPolicy
from schemas.events import source_of
from schemas.topics import RAW_TOPIC
from streams.kafka.admin import create_topics, topic_specs
from streams.kafka.batches import Batches
from streams.kafka.connection import ThreadPartitioner
from streams.settings import Settings
from streams.worker.app import PRODUCER_BATCH_BYTES
from streams.x.synthetic import synthetic_lines

ROOT = Path(__file__).resolve().parents[1]
AGENCIES = ROOT / "deploy" / "agencies.yaml"
BARE = "bare."


def free_port() -> int:
    while True:
        with socket.socket() as a, socket.socket() as b:
            a.bind(("localhost", 0))
            port: int = a.getsockname()[1]
            try:
                b.bind(("localhost", port + 1))
            except OSError:
                continue
            return port


@contextlib.contextmanager
def own_broker(tmp: str, **extra: str) -> Iterator[dict[str, str]]:
    """A broker of its own on free ports, its data under `tmp`; yields aduan's environment."""
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_PORT": str(port),
        "KAFKA_DATA_DIR": f"{tmp}/kafka",
        "ADUAN_BROKER": f"localhost:{port}",
        "ADUAN_AGENCIES": str(AGENCIES),
        "ADUAN_WORKER_DIR": f"{tmp}/worker",
        "ADUAN_WEB_PORT": str(free_port()),
        **extra,
    }
    broker_sh = ROOT / "deploy" / "kafka" / "broker.sh"
    subprocess.run([broker_sh, "start"], env=env, check=True, stdout=subprocess.DEVNULL)
    try:
        yield env
    finally:
        subprocess.run([broker_sh, "stop"], env=env, check=False, stdout=subprocess.DEVNULL)


def messages(registry: Registry, count: int, seed: int) -> list[tuple[bytes | None, bytes]]:
    return [m for line in synthetic_lines(registry, count, seed) for m in split_line(line)]


def produce(broker: str, topic: str, posts: list[tuple[bytes | None, bytes]]) -> None:
    producer = KafkaProducer(
        bootstrap_servers=broker,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        compression_type="gzip",
        partitioner=ThreadPartitioner(),  # as `aduan produce`'s
    )
    for key, value in posts:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()


def output_topics(settings: Settings, registry: Registry) -> list[str]:
    """The topics the worker writes routed events to."""
    return [
        spec.name
        for spec in topic_specs(settings, registry)
        if spec.name.startswith(("complaints.", "mentions.")) and spec.name != RAW_TOPIC
    ]


def expected_events(registry: Registry, posts: list[tuple[bytes | None, bytes]]) -> int:
    router = Router(registry, VerificationPolicy(), set())
    return sum(len(router.route_line(value)) for _, value in posts)


def wait_for_events(
    broker: str,
    topics: list[str],
    expected: int,
    timeout: float,
    source: tuple[subprocess.Popen[bytes], Path] | None = None,
) -> tuple[float, float]:
    """Reads `topics` until `expected` events arrived; returns the first and the last one's
    broker timestamps. Gives up, with its log, if the `source` process (the worker or the bare
    loop) exits first."""
    consumer = KafkaConsumer(bootstrap_servers=broker, enable_auto_commit=False)
    partitions = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    seen, first, last, deadline = 0, float("inf"), 0.0, time.time() + timeout
    while seen < expected:
        if time.time() > deadline:
            sys.exit(f"pipeline_bench: only {seen} of {expected} events after {timeout:.0f} s")
        if source is not None and source[0].poll() is not None:
            sys.exit(
                f"pipeline_bench: only {seen} of {expected} events: the process writing them"
                f" exited ({source[0].returncode}); its log:\n{source[1].read_text()}"
            )
        for records in consumer.poll(timeout_ms=500, max_records=5000).values():
            seen += len(records)
            first = min(first, min(r.timestamp for r in records) / 1000)
            last = max(last, max(r.timestamp for r in records) / 1000)
    consumer.close()
    return first, last


async def bare_loop(
    broker: str,
    registry: Registry,
    stop: asyncio.Event,
    *,
    prefix: str,
    ready: threading.Event | None = None,
) -> None:
    """consume -> route -> produce, committing a batch once all its events are acknowledged.
    Reads `prefix` + `mentions.raw` from the start into `prefix` + the worker's topics; with
    `ready`, reads only what comes after `ready` is set."""
    router = Router(registry, VerificationPolicy(), set())
    consumer = AIOKafkaConsumer(
        prefix + RAW_TOPIC,
        bootstrap_servers=broker,
        group_id=f"{prefix}bare-loop",
        enable_auto_commit=False,
        auto_offset_reset="earliest" if ready is None else "latest",
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=broker,
        acks="all",
        linger_ms=5,
        enable_idempotence=True,
        max_batch_size=PRODUCER_BATCH_BYTES,  # as the worker's
    )
    await consumer.start()
    await producer.start()
    try:
        if ready is not None:
            while not consumer.assignment() and not stop.is_set():
                await consumer.getmany(timeout_ms=100)  # nothing is sent before `ready`
            for tp in consumer.assignment():
                await consumer.position(tp)  # the end of the partition, from now on
            ready.set()
        while not stop.is_set():
            fetched = await consumer.getmany(timeout_ms=200, max_records=2000)
            batches = Batches(producer)  # as the worker sends
            for records in fetched.values():
                for record in records:
                    where = source_of(record)
                    for topic, key, event in router.route_line(record.value, source=where):
                        await batches.add(
                            prefix + topic,
                            None if key is None else key.encode(),
                            orjson.dumps(event),
                        )
            if fetched:
                await (await batches.send())
                await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()


@contextlib.contextmanager
def bare_loop_in_place_of_worker(broker: str, registry: Registry) -> Iterator[None]:
    """`bare_loop` in a thread of its own while the block runs, on the worker's topics, on only
    what is sent in the block."""
    stop = asyncio.Event()
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(
        target=loop.run_until_complete,
        args=(bare_loop(broker, registry, stop, prefix="", ready=ready),),
    )
    thread.start()
    try:
        if not ready.wait(timeout=60):
            sys.exit(f"pipeline_bench: the bare loop got no partitions of {RAW_TOPIC} in 60 s")
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join()
        loop.close()


# `bare_loop` as a program (`bare_loop_command`).
BARE_LOOP = """
import asyncio, sys
from pathlib import Path
from agents.core.registry import load_registry
import pipeline_bench
registry = load_registry(Path(sys.argv[2]))
print(pipeline_bench.BARE_READY, flush=True)
asyncio.run(pipeline_bench.bare_loop(sys.argv[1], registry, asyncio.Event(), prefix=sys.argv[3]))
"""
BARE_READY = "bare loop: starting"


def bare_loop_command(broker: str, prefix: str) -> list[str]:
    """The bare loop's command line; run it with bench/ on PYTHONPATH. With -P the working
    directory does not come first on the path, so that it imports the aduan PYTHONPATH points
    to, as the worker does."""
    return [sys.executable, "-P", "-c", BARE_LOOP, broker, str(AGENCIES), prefix]


@contextlib.contextmanager
def bare_loop_process(
    broker: str, prefix: str, env: dict[str, str], log_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """`bare_loop` in a process of its own while the block runs, as the worker runs in its own.
    (In a thread of this process it shared the GIL with the reader timing it, and measured half
    its speed: 5,370 posts/s against 11,492, one run each.)"""
    path = os.pathsep.join(filter(None, [str(ROOT / "bench"), env.get("PYTHONPATH")]))
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            bare_loop_command(broker, prefix),
            env={**env, "PYTHONPATH": path},
            stdout=log,
            stderr=log,
        )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=60)


def run_bare(
    env: dict[str, str],
    posts: list[tuple[bytes | None, bytes]],
    outputs: list[str],
    expected: int,
    log_path: Path,
) -> float:
    broker = env["ADUAN_BROKER"]
    produce(broker, BARE + RAW_TOPIC, posts)
    with bare_loop_process(broker, BARE, env, log_path) as loop:
        topics = [BARE + t for t in outputs]
        first, last = wait_for_events(broker, topics, expected, 900, source=(loop, log_path))
    return last - first


def _subscriber(broker: str, topics: list[str], ready: Any, stop: Any, out: Any) -> None:
    """A subscriber in a process of its own (no GIL shared with the producer): records when
    each routed event became readable. It is an aiokafka consumer: on the 2-core machine it
    shares the cores with what it measures, and at 1,000 posts/s a kafka-python one took 27% of
    a core, this one 12% (a CPU snapshot of one run each)."""
    asyncio.run(_subscribe(broker, topics, ready, stop, out))


async def _subscribe(broker: str, topics: list[str], ready: Any, stop: Any, out: Any) -> None:
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=broker,
        auto_offset_reset="latest",
        group_id=f"bench-latency-{os.getpid()}",  # each phase from its own start, not the last's
        fetch_max_wait_ms=10,
    )
    await consumer.start()
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        ready.set()
        arrivals = []
        while not stop.is_set():
            for records in (await consumer.getmany(timeout_ms=100)).values():
                now = time.time()
                arrivals += [(orjson.loads(r.value)["tweet_id"], now) for r in records]
    finally:
        await consumer.stop()
    out.put(arrivals)


def latency(
    broker: str,
    posts: list[tuple[bytes | None, bytes]],
    *,
    rate: float,
    outputs: list[str],
    env: dict[str, str],
    tmp: str,
) -> tuple[list[tuple[float, float]], str]:
    """(send time, seconds until readable) for each routed event: from its post's send (the
    post's CreateTime in mentions.raw, set by `aduan produce --rate`) to a subscriber reading
    it; and the machine's CPU steal while `aduan produce` ran."""
    source = Path(tmp) / "latency.jsonl"
    source.write_bytes(b"".join(value + b"\n" for _, value in posts))
    context = multiprocessing.get_context("spawn")
    ready, stop, out = context.Event(), context.Event(), context.Queue()
    complaints = [t for t in outputs if t.startswith("complaints.")]
    reader = context.Process(target=_subscriber, args=(broker, complaints, ready, stop, out))
    reader.start()
    ready.wait(timeout=60)
    before = cpu_ticks()
    subprocess.run(
        ["aduan", "produce", "--file", str(source), "--rate", str(rate)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    steal = steal_share(before, cpu_ticks())
    time.sleep(3)
    stop.set()
    arrivals = out.get(timeout=60)
    reader.join()
    sent: dict[str, float] = {}
    for key, stamp in read_timestamps(broker, RAW_TOPIC):
        # A redelivered post (1% of the synthetic mix) is on mentions.raw twice, and only its
        # first copy is routed: its events date from that one.
        sent.setdefault(key.decode(), stamp)
    waits = [(sent[tweet], arrived - sent[tweet]) for tweet, arrived in arrivals if tweet in sent]
    return waits, steal


def cpu_ticks() -> list[int]:
    """The machine's CPU time so far by kind, in ticks (Linux's /proc/stat; empty elsewhere)."""
    try:
        with open("/proc/stat") as stat:
            return [int(ticks) for ticks in stat.readline().split()[1:]]
    except OSError:
        return []


def steal_share(before: list[int], after: list[int]) -> str:
    """The share of CPU time the hypervisor gave to other guests: in a VM, what the pipeline
    lost to its neighbours (the 8th field of /proc/stat's cpu line)."""
    if len(before) < 8 or len(after) < 8:
        return "unknown"
    # user, nice, system, idle, iowait, irq, softirq, steal: guest time is counted in user too.
    spent = [a - b for a, b in zip(after[:8], before[:8], strict=True)]
    return f"{spent[7] / sum(spent):.0%}"


WARM_UP = 1.0
"""Seconds at the start of a latency run whose posts the percentiles leave out: the pipeline is
starting then (`aduan produce` connects and gets its producer id; the worker or the bare loop
wakes from idle), as a long-running one does once. In three full runs on 2026-12-01, the posts of
the first 0.2 s waited a median 36 to 88 ms in each pipeline's run, and the first second's posts
were 6 to 96 of the 220 to 223 events past its p99."""
WARM_UP_POSTS = 20_000  # routed before the latency runs with --count 0


def percentiles(waits: list[tuple[float, float]]) -> tuple[list[float], list[float], int]:
    """Percentile cuts of the waits of posts sent after the first WARM_UP seconds, the cuts of
    all of them, and how many waits the first cuts are of."""
    first = min(sent for sent, _ in waits)
    steady = [wait for sent, wait in waits if sent >= first + WARM_UP]
    everything = [wait for _, wait in waits]
    return statistics.quantiles(steady, n=100), statistics.quantiles(everything, n=100), len(steady)


def read_timestamps(broker: str, topic: str) -> list[tuple[bytes, float]]:
    """(key, CreateTime in seconds) of every keyed message on `topic`."""
    consumer = KafkaConsumer(bootstrap_servers=broker, enable_auto_commit=False)
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    ends = consumer.end_offsets(partitions)
    found: list[tuple[bytes, float]] = []
    while any(consumer.position(tp) < end for tp, end in ends.items()):
        for records in consumer.poll(timeout_ms=500).values():
            found += [(r.key, r.timestamp / 1000) for r in records if r.key is not None]
    consumer.close()
    return found


def run_length(text: str) -> float:
    """--seconds: long enough to leave something after the first WARM_UP seconds."""
    seconds = float(text)
    if seconds < WARM_UP + 1:
        raise argparse.ArgumentTypeError(
            f"at least {WARM_UP + 1:.0f}: the first {WARM_UP:.0f} s is left out"
        )
    return seconds


WORKER_READY = b"Worker]: Ready"


def start_until_ready(
    command: list[str], ready: bytes, env: dict[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    """`command` (`aduan worker` or the bare loop), once its log says `ready`."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    while ready not in log_path.read_bytes():
        if process.poll() is not None:
            sys.exit(f"{command[0]} exited before it was ready:\n" + log_path.read_text())
        time.sleep(0.2)
    return process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--count", type=int, default=200_000, help="mentions for throughput (0: latency only)"
    )
    parser.add_argument("--rate", type=float, default=1000, help="offered rate for latency")
    parser.add_argument("--seconds", type=run_length, default=30, help="length of the latency run")
    args = parser.parse_args()

    registry = load_registry(AGENCIES)
    with tempfile.TemporaryDirectory() as tmp, own_broker(tmp) as env:
        worker = None
        try:
            broker = env["ADUAN_BROKER"]
            settings = Settings.from_env(env)
            create_topics(settings, registry)
            outputs = output_topics(settings, registry)
            admin = KafkaAdminClient(bootstrap_servers=broker)
            admin.create_topics(
                {
                    BARE + name: {
                        "num_partitions": settings.topic_partitions,
                        "replication_factor": 1,
                    }
                    for name in [RAW_TOPIC, *outputs]
                },
                raise_errors=False,
            )
            admin.close()

            posts = messages(registry, args.count, seed=11)
            expected = expected_events(registry, posts)
            print(
                f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
                f"{platform.python_version()}; {len(posts)} posts -> {expected} events"
            )

            if posts:
                bare_seconds = run_bare(env, posts, outputs, expected, Path(tmp) / "bare.log")
            # Routed before the latency runs: the throughput run's posts or, with --count 0, a
            # warm-up that is not measured. A broker just started took up to 1 s to answer its
            # first produce requests (README, Speed), which a long-running pipeline pays once;
            # without a warm-up that pushed the worker's p99 to 183-847 ms.
            routed = posts or messages(registry, WARM_UP_POSTS, seed=10)
            routed_events = expected if posts else expected_events(registry, routed)
            produce(broker, RAW_TOPIC, routed)
            worker = start_until_ready(
                ["aduan", "worker"], WORKER_READY, env, Path(tmp) / "worker.log"
            )
            first, last = wait_for_events(
                broker, outputs, routed_events, 1800, source=(worker, Path(tmp) / "worker.log")
            )
            faust_seconds = last - first

            fresh = messages(registry, int(args.rate * args.seconds), seed=12)
            waits, steal = latency(broker, fresh, rate=args.rate, outputs=outputs, env=env, tmp=tmp)
            worker.terminate()
            worker.wait(timeout=60)
            fresh = messages(registry, int(args.rate * args.seconds), seed=13)
            # In place of the worker, now stopped, on its own topics.
            with bare_loop_in_place_of_worker(broker, registry):
                bare_waits, bare_steal = latency(
                    broker, fresh, rate=args.rate, outputs=outputs, env=env, tmp=tmp
                )
        finally:
            if worker is not None and worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=60)

    if posts:
        faust_rate, bare_rate = len(posts) / faust_seconds, len(posts) / bare_seconds
        print(
            f"throughput, {len(posts)} posts: Faust {faust_rate:,.0f}/s, bare aiokafka loop "
            f"{bare_rate:,.0f}/s, ratio {faust_rate / bare_rate:.2f}x (target: at least 0.5x)"
        )
    cuts, all_cuts, steady = percentiles(waits)
    bare_cuts, bare_all_cuts, bare_steady = percentiles(bare_waits)
    print(
        f"latency at {args.rate:.0f}/s over {args.seconds:.0f} s ({steady} events after the "
        f"first {WARM_UP:.0f} s): p50 {cuts[49] * 1000:.0f} ms, p95 {cuts[94] * 1000:.0f} ms, "
        f"p99 {cuts[98] * 1000:.0f} ms (target: p99 at most 100 ms); with the first "
        f"{WARM_UP:.0f} s ({len(waits)} events): p99 {all_cuts[98] * 1000:.0f} ms; CPU steal "
        f"{steal}"
    )
    print(
        f"latency of the bare aiokafka loop, the same way ({bare_steady} events): "
        f"p50 {bare_cuts[49] * 1000:.0f} ms, p95 {bare_cuts[94] * 1000:.0f} ms, "
        f"p99 {bare_cuts[98] * 1000:.0f} ms; Faust's p99 is {cuts[98] / bare_cuts[98]:.2f}x it; "
        f"with the first {WARM_UP:.0f} s ({len(bare_waits)} events): "
        f"p99 {bare_all_cuts[98] * 1000:.0f} ms; CPU steal {bare_steal}"
    )


if __name__ == "__main__":
    main()
