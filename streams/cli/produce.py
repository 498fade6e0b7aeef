"""`aduan produce`: mentions from a file, synthetic ones or the X API into mentions.raw."""

from __future__ import annotations

import argparse
import logging
import sys

from agents.core.errors import ConfigError
from schemas.topics import RAW_TOPIC
from streams.cli.options import Commands, add_agencies_option, open_stream, positive, registry
from streams.settings import Settings


def add_to(commands: Commands) -> None:
    produce = commands.add_parser("produce", help="push mentions into mentions.raw")
    source = produce.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", help="JSON Lines of mentions (v2 or v1.1), or - for stdin")
    source.add_argument("--synthetic", type=positive, metavar="N", help="N synthetic mentions")
    source.add_argument(
        "--x-stream", action="store_true", help="the X API v2 filtered stream (runs until stopped)"
    )
    source.add_argument(
        "--x-poll",
        action="store_true",
        help="poll each agency account's mentions timeline (runs until stopped)",
    )
    produce.add_argument("--rate", type=float, help="posts per second (default: unlimited)")
    add_agencies_option(produce)
    produce.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from streams.cli.progress import lines_with_progress
    from streams.producer.run import run_producer
    from streams.x.synthetic import synthetic_lines

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    agencies = registry(args, settings)
    if (args.x_stream or args.x_poll) and args.rate:
        raise ConfigError(
            "--rate applies to --file and --synthetic; X sets the pace of its sources"
        )
    if args.x_stream or args.x_poll:
        sent = run_producer(settings, agencies, "x-stream" if args.x_stream else "x-poll")
    elif args.synthetic is not None:
        lines = synthetic_lines(agencies, args.synthetic)
        sent = run_producer(settings, agencies, "synthetic", lines, args.rate)
    else:
        with open_stream(args.file, "rb", "input") as source:
            lines = lines_with_progress(source)
            sent = run_producer(settings, agencies, "file", lines, args.rate)
    print(f"{sent} posts produced to {RAW_TOPIC}", file=sys.stderr)
    return 0
