"""Throughput of `aduan route` against a plain orjson parse-and-serialise loop, in one run.

    python3 bench/route_bench.py [--count 200000] [--rounds 3]

Both sides run as fresh processes over the same generated file, alternating, and the best of
each is compared, so start-up and file I/O count on both sides and a busy neighbour hurts both.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agents.registry import load_registry
from streams.synthetic import synthetic_lines

ROOT = Path(__file__).resolve().parents[1]
BASELINE = """
import sys, orjson
loads, dumps, newline = orjson.loads, orjson.dumps, orjson.OPT_APPEND_NEWLINE
with open(sys.argv[1], "rb") as source, open(sys.argv[2], "wb") as sink:
    batch = []
    for line in source:
        try:
            batch.append(dumps(loads(line), option=newline))
        except orjson.JSONDecodeError:
            batch.append(line)
        if len(batch) >= 4096:
            sink.write(b"".join(batch))
            batch.clear()
    sink.write(b"".join(batch))
"""


def _timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200_000, help="mentions to generate")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each side")
    args = parser.parse_args()

    aduan = shutil.which("aduan")
    if aduan is None:
        sys.exit("route_bench: the aduan command is not installed; run pip install -e .")
    registry_path = ROOT / "deploy" / "agencies.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        mentions = Path(tmp) / "mentions.jsonl"
        with mentions.open("wb") as sink:
            for line in synthetic_lines(load_registry(registry_path), args.count):
                sink.write(line + b"\n")
        lines = sum(1 for _ in mentions.open("rb"))
        output = str(Path(tmp) / "out.jsonl")
        route = [aduan, "route", "--agencies", str(registry_path), "--input", str(mentions)]
        route += ["--output", output]
        baseline = [sys.executable, "-c", BASELINE, str(mentions), output]

        route_times, baseline_times = [], []
        for _ in range(args.rounds):
            baseline_times.append(_timed(baseline))
            route_times.append(_timed(route))

    best_route, best_baseline = min(route_times), min(baseline_times)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")  # fmt: skip
    print(f"input: {lines} lines, {mentions.stat().st_size if mentions.exists() else 0} bytes")
    print(f"baseline (orjson loads+dumps): best {best_baseline:.2f}s "
          f"of {', '.join(f'{t:.2f}' for t in baseline_times)}")  # fmt: skip
    print(f"aduan route:                   best {best_route:.2f}s "
          f"of {', '.join(f'{t:.2f}' for t in route_times)}")  # fmt: skip
    print(f"aduan route throughput: {lines / best_route:,.0f} lines/s")
    print(f"ratio route/baseline: {best_route / best_baseline:.2f}x (target: at most 1.5x)")


if __name__ == "__main__":
    main()
