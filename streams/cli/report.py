"""`aduan report`: charts, tables and an HTML page of the routed history."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from agents.core.errors import ConfigError
from streams.cli.options import Commands, iso_time, open_stream
from streams.settings import Settings


def add_to(commands: Commands) -> None:
    report = commands.add_parser(
        "report",
        help="analyse the routed history: PNG charts, CSV tables and an HTML page",
        description=(
            "Complaints per agency per day, rejection reasons over time, share of verified "
            "authors, multi-agency complaints, top conversation threads, routing latency "
            "(--since only) and the agencies' answers to their cases, from a file of events or "
            "from the live topics. Days are WIB dates."
        ),
    )
    source = report.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--from-file",
        metavar="FILE",
        help="JSON Lines of aduan route, aduan replay or aduan subscribe, or - for stdin",
    )
    source.add_argument("--since", type=iso_time, help="read the live topics from this time on")
    report.add_argument("--until", type=iso_time, help="end of the --since window (default: now)")
    report.add_argument("--out", type=Path, required=True, help="directory to write into")
    report.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from streams.history.report import events_from_file, events_from_kafka, write_report
    from streams.history.report_tables import build_tables
    from streams.history.window import Window

    if args.from_file is not None:
        if args.until is not None:
            raise ConfigError("--until goes with --since; a file is reported whole")
        with open_stream(args.from_file, "rb", "input") as source:
            tables = build_tables(events_from_file(source, args.from_file))
        title = f"aduan report of {args.from_file}"
    else:
        events, mentions = events_from_kafka(settings, Window(args.since, args.until))
        tables = build_tables(events, mentions)
        title = f"aduan report from {args.since.isoformat()} to {(args.until or 'now')}"
    # a case's state is its latest, so overdue is judged now, even for a window in the past
    for path in write_report(tables, args.out, title, datetime.now(UTC)):
        print(path, file=sys.stderr)
    return 0
