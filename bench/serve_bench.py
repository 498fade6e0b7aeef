"""`aduan serve`: one agency's `requests.json` under a steady load, and a new instance's catch-up.

    python3 bench/serve_bench.py [--cases 100000] [--rate 200] [--seconds 20] [--rounds 2]

1. Latency. Builds a view of --cases cases spread over the registry's agencies (opened in the
   last 80 days, each with its complaint's text), serves it with `aduan serve`'s app under uvicorn
   in a process of its own, and sends GET `requests.json` with one agency's key at --rate requests
   a second for --seconds (an open loop: requests leave on schedule, whatever the answers do). In
   the same run, alternating, the same server's bare route returning a fixed body takes the same
   load: the framework's own cost. Each route first takes 2 s of the load unmeasured (the
   server's threads and the view's pages warm up). Prints p50, p99 and max of each, and the
   server process's CPU time a request (user and system, from /proc): at --rate requests a
   second, that times the rate is the share of a core the server needs.
2. Catch-up. Starts its own broker, writes --cases case states and as many complaints to `cases`
   and the complaint topics, and times a new view's follower from its start to ready.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import orjson
from kafka import KafkaProducer
from pipeline_bench import AGENCIES, ROOT, free_port, own_broker

from agents.core.registry import load_registry
from streams.kafka.admin import create_topics
from streams.serve.follow import Follower
from streams.serve.view import Record, View
from streams.settings import Settings

SERVER = """
import sys
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from prometheus_client import CollectorRegistry
from starlette.responses import Response

from agents.core.registry import load_registry
from streams.serve.app import Served, create_app
from streams.serve.keys import Keyring, key_record
from streams.serve.run import run_app
from streams.serve.view import View


class Ready:
    ready = True


keyring = Keyring()
key_id = sys.argv[3].split("_")[1]
keyring.add(key_record(sys.argv[4], key_id, sys.argv[3], datetime.now(UTC)))
registry = load_registry(Path(sys.argv[5]))
served = Served(
    View(Path(sys.argv[1])), Ready(), keyring, lambda: registry, partial(datetime.now, UTC),
    CollectorRegistry(),
)
app = create_app(served)
BODY = b'[{"status": "ok"}]'


@app.get("/bare", include_in_schema=False)
def bare() -> Response:
    return Response(BODY, media_type="application/json")


run_app(app, "127.0.0.1", int(sys.argv[2]), "warning")
"""


WARM_UP = 2.0
"""Seconds of load each route takes, unmeasured, before the rounds."""


def case_records(cases: int, agencies: list[str]) -> tuple[list[Record], list[Record]]:
    """`cases` case states and their complaints, round robin over `agencies`."""
    now = datetime.now(UTC)
    states, complaints = [], []
    for n in range(cases):
        agency = agencies[n % len(agencies)]
        case_id = str(1_790_000_000_000_000_000 + n)
        opened = now - timedelta(days=80 * n / cases)
        at = opened.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        state = {
            "case_id": case_id,
            "agency_id": agency,
            "citizen_id": str(1_500_000_000_000_000_000 + n % 5000),
            "opened_at": at,
            "due_at": (opened + timedelta(days=7)).isoformat(timespec="milliseconds")[:23] + "Z",
            "posts": [case_id],
            "answers": 0,
            "first_answer_at": None,
            "first_answer_tweet_id": None,
            "working_days_to_answer": None,
            "answered_on_time": None,
            "status": "open" if n % 3 else "overdue",
            "registry_version": "bench",
            "schema_version": 3,
        }
        key = f"{agency}:{case_id}".encode()
        states.append(Record("cases", n % 3, n, key, orjson.dumps(state), 0))
        complaint = {
            "complaint_id": case_id,
            "agency_id": agency,
            "revision": 0,
            "text": f"@agency jalan rusak di Jl. Pemuda nomor {n}, mohon segera ditindaklanjuti",
            "url": f"https://x.com/warga/status/{case_id}",
        }
        topic = f"complaints.{agency}"
        complaints.append(Record(topic, n % 3, n, case_id.encode(), orjson.dumps(complaint), 0))
    return states, complaints


async def load(url: str, key: str, rate: float, seconds: float) -> list[float]:
    """Latencies in ms of GETs sent at `rate` a second for `seconds`, on schedule."""
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {key}"}

    async def one(session: aiohttp.ClientSession) -> None:
        start = time.perf_counter()
        async with session.get(url, headers=headers) as response:
            await response.read()
            if response.status != 200:
                raise SystemExit(f"serve_bench: {url} answered {response.status}")
        latencies.append((time.perf_counter() - start) * 1000)

    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        tasks = []
        for n in range(int(rate * seconds)):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(session)))
        await asyncio.gather(*tasks)
    return latencies


def summary(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered):.1f} ms, p99 {p99:.1f} ms, max {ordered[-1]:.1f} ms"


def latency(args: argparse.Namespace, tmp: str) -> None:
    registry = load_registry(AGENCIES)
    agencies = list(registry.agency_ids)
    view = View(Path(tmp) / "view.sqlite")
    states, complaints = case_records(args.cases, agencies)
    with closing(view.writer()) as db:
        view.apply(db, [*complaints, *states])
    agency = agencies[0]
    key = "aduan_0123456789abcdef_" + "k" * 43
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(view.path), str(port), key, agency, str(AGENCIES)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _up(base):
            if time.monotonic() > deadline or server.poll() is not None:
                sys.exit("serve_bench: the server did not start")
            time.sleep(0.2)
        print(
            f"view: {view.count()} cases over {len(agencies)} agencies; "
            f"{agency}'s requests.json: {len(orjson.loads(_get(base, key)))} requests a response"
        )
        routes = {
            "bare route   ": f"{base}/bare",
            "requests.json": f"{base}/open311/v2/requests.json",
        }
        for url in routes.values():
            asyncio.run(load(url, key, args.rate, WARM_UP))
        for round_ in range(1, args.rounds + 1):
            for name, url in routes.items():
                before = _cpu_seconds(server.pid)
                latencies = asyncio.run(load(url, key, args.rate, args.seconds))
                cpu = (_cpu_seconds(server.pid) - before) / len(latencies) * 1000
                print(
                    f"round {round_}: {name} {summary(latencies)}; "
                    f"server CPU {cpu:.2f} ms a request"
                )
    finally:
        server.terminate()
        server.wait()


def _cpu_seconds(pid: int) -> float:
    """The user and system CPU time process `pid` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _up(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=1):
            return True
    except OSError:
        return False


def _get(base: str, key: str) -> bytes:
    request = urllib.request.Request(
        f"{base}/open311/v2/requests.json", headers={"Authorization": f"Bearer {key}"}
    )
    with urllib.request.urlopen(request) as response:
        body: bytes = response.read()
        return body


def catch_up(args: argparse.Namespace, tmp: str) -> None:
    registry = load_registry(AGENCIES)
    with own_broker(tmp) as env:
        settings = Settings.from_env(env)
        create_topics(settings, registry)
        states, complaints = case_records(args.cases, list(registry.agency_ids))
        producer = KafkaProducer(
            bootstrap_servers=env["ADUAN_BROKER"], acks="all", linger_ms=20, batch_size=1 << 20
        )
        for record in [*complaints, *states]:
            producer.send(
                record.topic, key=record.key, value=record.value, partition=record.partition
            )
        producer.flush()
        producer.close()
        view = View(Path(tmp) / "fresh" / "view.sqlite")
        follower = Follower(settings, view)
        start = time.perf_counter()
        follower.start()
        if not follower.wait_ready(600):
            sys.exit(f"serve_bench: the view did not catch up: {follower.error}")
        took = time.perf_counter() - start
        follower.stop()
        print(
            f"catch-up: {view.count()} cases and {len(complaints)} complaints in {took:.1f} s "
            f"(target: 100,000 cases in at most 10 s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--skip-catch-up", action="store_true")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        latency(args, tmp)
    if not args.skip_catch_up:
        with tempfile.TemporaryDirectory() as tmp:
            catch_up(args, tmp)


if __name__ == "__main__":
    main()
