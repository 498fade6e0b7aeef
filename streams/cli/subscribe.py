"""`aduan subscribe`: an agency's complaints, one JSON event per line."""

from __future__ import annotations

import argparse

from streams.cli.options import Commands, iso_time, open_stream, positive
from streams.settings import Settings


def add_to(commands: Commands) -> None:
    subscribe = commands.add_parser(
        "subscribe", help="print an agency's complaints, one JSON event per line"
    )
    subscribe.add_argument("--agency", required=True, help="agency id, as in the registry")
    subscribe.add_argument("--group", help="consumer group (default: aduan-agency-<ID>)")
    start = subscribe.add_mutually_exclusive_group()
    start.add_argument("--from-beginning", action="store_true", help="read the whole topic")
    start.add_argument("--since", type=iso_time, help="read from this ISO 8601 time on")
    subscribe.add_argument("--max-events", type=positive, help="stop after N events")
    subscribe.add_argument("--idle-timeout", type=float, help="stop after S seconds without events")
    subscribe.add_argument("--output", default="-", help="output file, or - for stdout (default)")
    subscribe.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from streams.delivery.subscriber import subscribe

    with open_stream(args.output, "wb", "output") as sink:
        subscribe(
            settings,
            args.agency,
            args.group,
            sink,
            rewind=args.from_beginning,
            since=args.since,
            max_events=args.max_events,
            idle_timeout=args.idle_timeout,
        )
    return 0
