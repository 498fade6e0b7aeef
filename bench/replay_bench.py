"""`aduan replay` against the bare aiokafka read loop of the same partitions.

    python3 bench/replay_bench.py [--count 200000] [--rounds 3]

Starts its own broker (deploy/kafka/broker.sh, free ports, temporary data), fills `mentions.raw`
with --count synthetic mentions, then alternates, --rounds times each:
1. the bare loop: a Python process that reads every partition of `mentions.raw` from start to
   end with aiokafka (assigned partitions, getmany) and does nothing with the records;
2. `aduan replay --since 1970-01-01T00:00:00Z --output FILE`, as a user runs it.
Each is timed from process start to exit; the ratio is bare time / replay time (1.0: as fast).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from pipeline_bench import ROOT, messages, own_broker, produce

from agents.core.registry import load_registry
from schemas.topics import RAW_TOPIC
from streams.kafka.admin import create_topics
from streams.settings import Settings

BARE_READ = """
import asyncio, sys
from aiokafka import AIOKafkaConsumer, TopicPartition

async def main(broker, topic):
    consumer = AIOKafkaConsumer(bootstrap_servers=broker, enable_auto_commit=False,
                                max_partition_fetch_bytes=4 * 1024 * 1024)
    await consumer.start()
    partitions = [TopicPartition(topic, p) for p in range(int(sys.argv[3]))]
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    total = sum((await consumer.end_offsets(partitions)).values())
    read = 0
    while read < total:
        for records in (await consumer.getmany(timeout_ms=1000, max_records=5000)).values():
            read += len(records)
    await consumer.stop()
    print(read)

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"replay_bench: {command[0]} failed:\n{done.stderr}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200_000, help="mentions to replay")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each side")
    args = parser.parse_args()
    registry = load_registry(ROOT / "deploy" / "agencies.yaml")
    with tempfile.TemporaryDirectory() as tmp, own_broker(tmp) as env:
        settings = Settings.from_env(env)
        create_topics(settings, registry)
        posts = messages(registry, args.count, seed=13)
        produce(env["ADUAN_BROKER"], RAW_TOPIC, posts)
        bare = [sys.executable, "-c", BARE_READ, env["ADUAN_BROKER"], RAW_TOPIC]
        bare.append(str(settings.topic_partitions))
        replay = ["aduan", "replay", "--since", "1970-01-01T00:00:00Z"]
        replay += ["--output", f"{tmp}/replay.jsonl"]
        ratios = []
        for round_ in range(1, args.rounds + 1):
            bare_s, replay_s = timed(bare, env), timed(replay, env)
            ratios.append(bare_s / replay_s)
            print(
                f"round {round_}: bare read {len(posts) / bare_s:,.0f} posts/s, "
                f"aduan replay {len(posts) / replay_s:,.0f} posts/s: {ratios[-1]:.2f}x",
                flush=True,
            )
    print(
        f"{len(posts)} posts, {args.rounds} rounds on {os.cpu_count()} cores: aduan replay "
        f"runs at {statistics.median(ratios):.2f}x the bare read loop's rate (median; "
        "target at least 0.7x)"
    )


if __name__ == "__main__":
    main()
