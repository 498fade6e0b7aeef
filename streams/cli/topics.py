"""`aduan topics create|count`: the pipeline's Kafka topics."""

from __future__ import annotations

import argparse
import sys

from agents.core.errors import ConfigError
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
    from streams.kafka.admin import create_topics, partition_mismatches, topic_specs

    agencies = registry(args, settings)
    created = create_topics(settings, agencies)
    specs = topic_specs(settings, agencies)
    mismatches = {mismatch.topic: mismatch for mismatch in partition_mismatches(settings, specs)}
    for topic, new in created.items():
        state = "created" if new else "exists"
        if topic in mismatches:
            state = f"exists, MISMATCH: {mismatches[topic].explain()}"
        print(f"{topic:<40} {state}", file=sys.stderr)
    broken = [mismatch for mismatch in mismatches.values() if mismatch.breaks_the_pipeline]
    if broken:
        more = f" ({len(broken) - 1} more above)" if len(broken) > 1 else ""
        raise ConfigError(broken[0].explain() + more)
    return 0


def run_count(args: argparse.Namespace, settings: Settings) -> int:
    from streams.kafka.admin import count_messages, topic_specs

    names = [spec.name for spec in topic_specs(settings, registry(args, settings))]
    for topic, count in count_messages(settings, names).items():
        print(f"{topic:<40} {count:>9}")
    return 0
