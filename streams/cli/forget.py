"""`aduan forget`: forget a post or a user, everywhere aduan keeps them."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from agents.core.errors import ConfigError
from streams.cli.options import Commands
from streams.settings import Settings


def add_to(commands: Commands) -> None:
    forget = commands.add_parser(
        "forget",
        help="forget a post or a user: no more routing, withdrawn from agencies, erased",
        description=(
            "Records the request in aduan.forget, which the worker, replay and reports honour; "
            "sends a withdrawal to every agency that received a complaint of it, and a "
            "tombstone for each of its mentions, so Kafka's compaction erases the texts. An id "
            "aduan never saw is recorded all the same. --sweep applies every recorded request "
            "again (run it on a schedule: it erases what arrived since)."
        ),
    )
    what = forget.add_mutually_exclusive_group(required=True)
    what.add_argument("--post", metavar="ID", help="a post id: the post and its revisions")
    what.add_argument("--user", metavar="ID", help="a user id (not the @name): all their posts")
    what.add_argument("--sweep", action="store_true", help="apply every recorded request again")
    forget.add_argument(
        "--reason",
        help="why, in one line agencies will read (e.g. 'citizen request 2026-117'); required "
        "with --post and --user",
    )
    forget.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from agents.core.forget import forget_request
    from streams.forget.run import forget, sweep_recorded

    if args.sweep:
        if args.reason is not None:
            raise ConfigError("--reason goes with --post or --user; --sweep reuses each request's")
        swept = sweep_recorded(settings)
        withdrawn = sum(len(topics) for topics in swept.withdrawn.values())
        again = f", {swept.again} erasure(s) written again to close their segments"
        print(
            f"{withdrawn} complaint(s) withdrawn, {sum(swept.erased.values())} mention(s) erased, "
            f"{sum(swept.kept.values())} under whole-thread keys left to their retention"
            + (again if swept.again else "")
        )
        warn_uncompacted(swept.uncompacted)
        return 0
    if args.reason is None:
        raise ConfigError("--reason is required: say why, e.g. --reason 'citizen request 2026-117'")
    now = datetime.now(UTC)
    if args.post is not None:
        request = forget_request("post", args.post, args.reason, now)
    else:
        request = forget_request("user", args.user, args.reason, now)
    [outcome] = forget(settings, [request])
    print(outcome.line())
    print(
        "the texts leave Kafka when its log cleaner compacts the topics: about "
        f"ADUAN_COMPACTION_LAG_MS ({settings.compaction_lag_ms} ms) later where messages keep "
        "coming, after the next `aduan forget --sweep` past that where none do "
        "(docs/forgetting.md)",
        file=sys.stderr,
    )
    warn_uncompacted(outcome.uncompacted)
    return 0


def warn_uncompacted(topics: list[str]) -> None:
    """Say loudly where erasures were written in vain: a topic made before aduan compacted it."""
    for topic in topics:
        print(
            f"aduan forget: WARNING: {topic} is not compacted, so the erasures written to it "
            "erase nothing and its texts stay until its retention ends; set its "
            "cleanup.policy to compact,delete (docs/forgetting.md, What is kept)",
            file=sys.stderr,
        )
