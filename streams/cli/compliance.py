"""`aduan compliance check`: forget what X's batch compliance jobs say was deleted or hidden."""

from __future__ import annotations

import argparse
import math

from streams.cli.options import Commands, iso_time
from streams.settings import Settings


def add_to(commands: Commands) -> None:
    compliance = commands.add_parser(
        "compliance",
        help="honour X's compliance rules for the posts and users aduan holds",
        description="Checks with X what became of the posts and users aduan holds.",
    )
    actions = compliance.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check",
        help="run X's batch compliance jobs and forget what X says to delete",
        description=(
            "Sends the ids of the posts in mentions.raw, and of their authors, to X's batch "
            "compliance endpoints (one job for posts, one for users; nothing but the ids), waits "
            "for the jobs, and forgets each post or user X says was deleted, protected, "
            "suspended or deactivated, as aduan forget does. A result line that cannot be "
            "trusted goes to mentions.dlq with its reason. Exits 1 if a job failed, expired or "
            "outlasted --wait: nothing of that job is forgotten, so run it again."
        ),
    )
    check.add_argument(
        "--since",
        type=iso_time,
        help="only the posts written to mentions.raw from this time on (default: all)",
    )
    check.add_argument(
        "--wait",
        type=_seconds,
        default=3600.0,
        help="seconds to wait for X to finish the jobs (default: 3600)",
    )
    check.add_argument(
        "--poll",
        type=_seconds,
        default=30.0,
        help="seconds between two looks at a running job (default: 30)",
    )
    check.set_defaults(run=run)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text}")
    return value


def run(args: argparse.Namespace, settings: Settings) -> int:
    from streams.x.compliance import check

    report = check(settings, args.since, args.wait, args.poll)
    for outcome in report.outcomes:
        print(outcome.line())
    print(report.summary())
    report.raise_failures()
    return 0
