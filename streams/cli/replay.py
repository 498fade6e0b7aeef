"""`aduan replay`: re-route a time window of mentions.raw, e.g. to check a registry change."""

from __future__ import annotations

import argparse
import sys
from functools import partial

from schemas.topics import RAW_TOPIC
from streams.cli.options import (
    Commands,
    add_agencies_option,
    add_policy_option,
    iso_time,
    open_stream,
    policy,
)
from streams.settings import Settings

INTERRUPTED = 130
"""The shell's code for a command stopped by Ctrl-C."""


def add_to(commands: Commands) -> None:
    replay = commands.add_parser(
        "replay",
        help="re-route a time window of mentions.raw, e.g. to check a registry change",
        description=(
            "Re-route the posts of mentions.raw whose Kafka time is in [--since, --until) with "
            "a registry and policy (default: the ones in force), into a JSON Lines file (as "
            "aduan route writes) or into shadow topics PREFIX.complaints.<id> etc. Reads "
            "without a consumer group: the live worker is untouched. Never writes to live topics."
        ),
    )
    replay.add_argument("--since", type=iso_time, required=True, help="ISO 8601 start time")
    replay.add_argument("--until", type=iso_time, help="ISO 8601 end time (default: now)")
    add_agencies_option(replay, "registry to route with (default: the one in force)")
    add_policy_option(replay)
    target = replay.add_mutually_exclusive_group(required=True)
    target.add_argument("--output", help="JSON Lines file of the events, or - for stdout")
    target.add_argument("--to-topics", metavar="PREFIX", help="write to PREFIX.<live topic name>")
    replay.add_argument(
        "--diff",
        action="store_true",
        help="compare with what the live pipeline emitted for the same posts, per agency "
        "(printed to stdout, or to stderr when --output is -)",
    )
    replay.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from streams.cli.progress import PostsProgress
    from streams.history.diff import format_diff
    from streams.history.replay import check_prefix
    from streams.history.replay_run import run_replay
    from streams.history.window import Window

    prefix = None if args.to_topics is None else check_prefix(args.to_topics)
    output = None if args.output is None else partial(open_stream, args.output, "wb", "output")
    done = run_replay(
        settings,
        args.agencies,
        policy(args, settings),
        Window(args.since, args.until),
        prefix=prefix,
        progress=partial(PostsProgress, what="replay"),
        output=output,
        diff=args.diff,
    )
    events = done.outcome.events
    print(
        f"replayed {done.outcome.read} of {done.total} posts of {RAW_TOPIC} -> "
        f"{sum(events.values())} events (registry {done.registry.version})",
        file=sys.stderr,
    )
    for topic, count in sorted(events.items()):
        shown = topic if prefix is None else f"{prefix}.{topic}"
        print(f"  {shown:<40} {count:>9}", file=sys.stderr)
    if done.outcome.interrupted:
        print(
            f"stopped by Ctrl-C: {done.outcome.where()}. The output holds the events of the "
            "posts before those offsets; replay again for the whole window.",
            file=sys.stderr,
        )
        return INTERRUPTED
    if done.diff is not None:
        out = sys.stderr if args.output == "-" else sys.stdout
        print(format_diff(done.diff), file=out)
    return 0
