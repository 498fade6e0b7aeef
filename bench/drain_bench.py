"""The worker alone: how fast it drains posts already in `mentions.raw`, and what each post costs
the worker and the broker in CPU time.

    python3 bench/drain_bench.py [--count 20000]

Twice in one run, each time on a fresh broker of its own: fills `mentions.raw` with --count
synthetic mentions, starts a worker and waits until every routed event is readable. First the
bare aiokafka loop of pipeline_bench.py (in a process of its own), then `aduan worker`. The rate
is measured as pipeline_bench.py's throughput; each drain also has a broker of its own, and the
CPU time is counted from the worker's start to the last event.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import psutil
from pipeline_bench import (
    AGENCIES,
    BARE_READY,
    ROOT,
    WORKER_READY,
    bare_loop_command,
    expected_events,
    messages,
    output_topics,
    own_broker,
    produce,
    start_until_ready,
    wait_for_events,
)

from agents.core.registry import load_registry
from schemas.topics import RAW_TOPIC
from streams.kafka.admin import create_topics
from streams.settings import Settings

BENCH = str(ROOT / "bench")  # where the bare loop's process imports pipeline_bench from


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system + times.children_user + times.children_system)


def drain(count: int, bare: bool) -> tuple[float, dict[str, float]]:
    """Posts per second, and CPU seconds per post of the worker and of the broker."""
    registry = load_registry(AGENCIES)
    with (
        tempfile.TemporaryDirectory() as tmp,
        # The caller's PYTHONPATH is kept, so that a worker runs the code it points to.
        own_broker(
            tmp, PYTHONPATH=os.pathsep.join(filter(None, [BENCH, os.environ.get("PYTHONPATH")]))
        ) as env,
    ):
        broker = env["ADUAN_BROKER"]
        worker = None
        try:
            settings = Settings.from_env(env)
            create_topics(settings, registry)
            outputs = output_topics(settings, registry)
            posts = messages(registry, count, seed=11)
            expected = expected_events(registry, posts)
            produce(broker, RAW_TOPIC, posts)

            command, ready = ["aduan", "worker"], WORKER_READY
            if bare:
                command, ready = bare_loop_command(broker, ""), BARE_READY.encode()
            log_path = Path(tmp) / "worker.log"
            worker = start_until_ready(command, ready, env, log_path)
            kafka = next(
                p
                for p in psutil.process_iter(["cmdline"])
                if "kafka.Kafka" in p.info["cmdline"] and tmp in " ".join(p.info["cmdline"])
            )
            processes = {"worker": psutil.Process(worker.pid), "broker": kafka}
            before = {name: cpu_seconds(p) for name, p in processes.items()}
            first, last = wait_for_events(broker, outputs, expected, 1800, (worker, log_path))
            after = {name: cpu_seconds(p) for name, p in processes.items()}
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=60)
    cost = {name: (after[name] - before[name]) / len(posts) for name in processes}
    return len(posts) / (last - first), cost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000, help="mentions to drain")
    args = parser.parse_args()
    results = {"bare loop": drain(args.count, bare=True), "aduan worker": drain(args.count, False)}
    for name, (rate, cost) in results.items():
        costs = ", ".join(f"{process} {1e6 * cpu:,.0f} µs" for process, cpu in cost.items())
        print(f"{name}: {rate:,.0f} posts/s; CPU per post: {costs}")
    ratio = results["aduan worker"][0] / results["bare loop"][0]
    print(f"aduan worker / bare loop: {ratio:.2f}x")


if __name__ == "__main__":
    main()
