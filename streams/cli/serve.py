"""`aduan serve`: the Open311 API (and, later, the inbox) for agencies that run no Kafka."""

from __future__ import annotations

import argparse

from streams.cli.options import Commands
from streams.settings import Settings


def add_to(commands: Commands) -> None:
    serve = commands.add_parser(
        "serve",
        help="serve agencies their cases over HTTP: Open311 GeoReport v2, with per-agency keys",
        description=(
            "Builds a local view of the cases and their complaints from the topics "
            "(ADUAN_SERVE_DIR) and answers the read side of Open311 GeoReport v2 under "
            "/open311/v2/ on ADUAN_SERVE_PORT, each agency with its own key (aduan agencies key "
            "create); the OpenAPI document is at /openapi.json. /readyz answers 200 once the view "
            "has caught up with the topics."
        ),
    )
    serve.add_argument(
        "--host",
        default="localhost",
        help="address to listen on (default: localhost; put a TLS proxy in front for agencies)",
    )
    serve.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from streams.serve.run import run_serve

    run_serve(settings, args.host)
    return 0
