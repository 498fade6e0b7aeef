"""`aduan route`: the routing decisions over a JSON Lines file, without Kafka."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from streams.cli.options import (
    Commands,
    add_agencies_option,
    add_policy_option,
    iso_time,
    open_stream,
    policy,
    registry,
)
from streams.settings import Settings


def add_to(commands: Commands) -> None:
    route = commands.add_parser(
        "route",
        help="route a JSON Lines file of mentions offline, as the live pipeline would",
        description=(
            "Apply the routing decisions to every line of INPUT and write one JSON line per event: "
            '{"topic": ..., "key": ..., "value": {...}}, the states of the cases on topic cases '
            "included. Per-topic counts go to stderr."
        ),
    )
    add_agencies_option(route)
    route.add_argument("--input", default="-", help="JSON Lines input, or - for stdin (default)")
    route.add_argument("--output", default="-", help="output file, or - for stdout (default)")
    add_policy_option(route)
    cases = route.add_mutually_exclusive_group()
    cases.add_argument(
        "--now",
        type=iso_time,
        help="ISO 8601 time to judge cases overdue at (default: the current time)",
    )
    cases.add_argument("--no-cases", action="store_true", help="route only: write no cases lines")
    route.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from agents.core.route import Router
    from streams.cases import new_case_book
    from streams.route_file import route_file

    agencies = registry(args, settings)
    now = args.now or datetime.now(UTC)
    cases = None if args.no_cases else new_case_book(settings, agencies, lambda: now)
    router = Router(agencies, policy(args, settings), seen=set(), cases=cases)
    with (
        open_stream(args.input, "rb", "input") as source,
        open_stream(args.output, "wb", "output") as sink,
    ):
        lines, counts = route_file(router, source, sink)
    total = sum(counts.values())
    print(f"{lines} lines -> {total} events (registry {agencies.version})", file=sys.stderr)
    for topic, count in sorted(counts.items()):
        print(f"  {topic:<40} {count:>9}", file=sys.stderr)
    return 0
