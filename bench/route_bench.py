"""Throughput of `aduan route --no-cases` (routing alone) and `aduan route` against a plain orjson
parse-and-serialise loop, and what case tracking costs (`aduan route` against `--no-cases`), in
one run.

    python3 bench/route_bench.py [--count 200000] [--rounds 3]

The sides run as fresh processes over the same generated file, alternating, so start-up and file
I/O count on each and a busy neighbour hurts all.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from agents.core.registry import load_registry
from streams.x.synthetic import synthetic_lines

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


def _timed(command: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child): CPU time is steadier on a shared machine."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200_000, help="mentions to generate")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each side")
    args = parser.parse_args()

    aduan = shutil.which("aduan")
    if aduan is None:
        sys.exit("route_bench: the aduan command is not installed; run deploy/setup.sh")
    registry_path = ROOT / "deploy" / "agencies.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        mentions = Path(tmp) / "mentions.jsonl"
        with mentions.open("wb") as sink:
            for line in synthetic_lines(load_registry(registry_path), args.count):
                sink.write(line + b"\n")
        lines = sum(1 for _ in mentions.open("rb"))
        size = mentions.stat().st_size
        output = str(Path(tmp) / "out.jsonl")
        route = [aduan, "route", "--agencies", str(registry_path), "--input", str(mentions)]
        route += ["--output", output]
        baseline = [sys.executable, "-c", BASELINE, str(mentions), output]

        route_times, baseline_times, no_cases_times = [], [], []
        for _ in range(args.rounds):
            baseline_times.append(_timed(baseline))
            route_times.append(_timed(route))
            no_cases_times.append(_timed([*route, "--no-cases"]))

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; input: {lines} lines, {size / 1e6:.1f} MB"
    )
    for label, times in (
        ("baseline (orjson loads+dumps)", baseline_times),
        ("aduan route", route_times),
        ("aduan route --no-cases", no_cases_times),
    ):
        walls = ", ".join(f"{wall:.2f}" for wall, _ in times)
        cpus = ", ".join(f"{cpu:.2f}" for _, cpu in times)
        print(f"{label:<30} wall s: {walls}   cpu s: {cpus}")

    def ratio(
        pick: Callable[[list[float]], float],
        index: int,
        side: list[tuple[float, float]],
        base: list[tuple[float, float]],
    ) -> float:
        return pick([t[index] for t in side]) / pick([t[index] for t in base])

    fastest = min(wall for wall, _ in no_cases_times)
    print(f"aduan route --no-cases throughput: {lines / fastest:,.0f} lines/s")
    for label, side in (("aduan route --no-cases", no_cases_times), ("aduan route", route_times)):
        print(
            f"{label}/baseline over {args.rounds} rounds: best wall "
            f"{ratio(min, 0, side, baseline_times):.2f}x, best cpu "
            f"{ratio(min, 1, side, baseline_times):.2f}x, median cpu "
            f"{ratio(statistics.median, 1, side, baseline_times):.2f}x"
            + (" (target: at most 1.2x)" if side is no_cases_times else "")
        )
    print(
        f"case tracking: route/route --no-cases, median cpu "
        f"{ratio(statistics.median, 1, route_times, no_cases_times):.2f}x (target: at most 1.2x)"
    )


if __name__ == "__main__":
    main()
