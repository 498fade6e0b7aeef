"""`aduan topics create|count`: the pipeline's Kafka topics."""

from __future__ import annotations

import argparse
import sys

from streams.cli.options import Commands, add_agencies_option, registry
from streams.settings import Settings


def add_to(commands: Commands) -> None:
    topics = commands.add_parser("topics", help="manage the pipeline's Kafka topics")
    actions = topics.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser(
        "create", help="create the missing topics (idempotent); mentions.raw keeps forever"
    )
    add_agencies_option(create)
    create.set_defaults(run=run_create)
    count = actions.add_parser("count", help="print the number of messages per topic")
    add_agencies_option(count)
    count.set_defaults(run=run_count)


def run_create(args: argparse.Namespace, settings: Settings) -> int:
    from streams.kafka.admin import create_and_check_topics

    check = create_and_check_topics(settings, registry(args, settings))
    for topic, state in check.states.items():
        print(f"{topic:<40} {state}", file=sys.stderr)
    if check.error is not None:
        raise check.error
    return 0


def run_count(args: argparse.Namespace, settings: Settings) -> int:
    from streams.kafka.admin import count_messages, topic_specs

    names = [spec.name for spec in topic_specs(settings, registry(args, settings))]
    for topic, count in count_messages(settings, names).items():
        print(f"{topic:<40} {count:>9}")
    return 0
