"""`aduan synthetic`: realistic synthetic mentions as X API v2 stream messages."""

from __future__ import annotations

import argparse

from streams.cli.options import Commands, add_agencies_option, open_stream, positive, registry
from streams.settings import Settings


def add_to(commands: Commands) -> None:
    synthetic = commands.add_parser(
        "synthetic",
        help="write realistic synthetic mentions (X API v2 stream messages) as JSON Lines",
    )
    add_agencies_option(synthetic)
    synthetic.add_argument("--count", type=positive, default=1000, help="mentions (default 1000)")
    synthetic.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    synthetic.add_argument("--output", default="-", help="output file, or - for stdout (default)")
    synthetic.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from streams.x.synthetic import synthetic_lines

    agencies = registry(args, settings)
    with open_stream(args.output, "wb", "output") as sink:
        for line in synthetic_lines(agencies, args.count, args.seed):
            sink.write(line + b"\n")
    return 0
