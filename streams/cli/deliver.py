"""`aduan deliver`: every complaint and case change, POSTed signed to its agency's webhook."""

from __future__ import annotations

import argparse

from streams.cli.options import Commands
from streams.settings import Settings


def add_to(commands: Commands) -> None:
    deliver = commands.add_parser(
        "deliver",
        help="POST each complaint and case change to its agency's webhook, signed",
        description=(
            "Reads the complaint topics and cases in the consumer group aduan-webhooks and POSTs "
            "each event as JSON to the webhook its agency registered (the registry's webhook "
            "field), signed with the agency's secret (Aduan-Signature, docs/webhooks.md). "
            "Failures are retried for ADUAN_WEBHOOK_RETRY_SECONDS, then kept in webhooks.dlq. "
            "Metrics on ADUAN_DELIVER_PORT. Start more instances to share the partitions."
        ),
    )
    deliver.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from streams.delivery.webhooks import run_deliver

    run_deliver(settings)
    return 0
