"""`aduan worker`: the Faust worker that routes mentions.raw."""

from __future__ import annotations

import argparse

from streams.cli.options import Commands
from streams.settings import Settings


def add_to(commands: Commands) -> None:
    worker = commands.add_parser("worker", help="run the Faust worker that routes mentions.raw")
    worker.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from streams.worker.run import run_worker

    run_worker(settings)
    return 0
