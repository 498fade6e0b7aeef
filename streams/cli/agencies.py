"""`aduan agencies sync|grant|revoke`: publish the registry, and each agency's login on a secured
cluster."""

from __future__ import annotations

import argparse
import sys

from schemas.topics import agency_group, complaint_topic
from streams.cli.logins import revoke_login, say_granted
from streams.cli.options import Commands, add_agencies_option, add_password_file, registry
from streams.settings import Settings


def add_to(commands: Commands) -> None:
    agencies = commands.add_parser("agencies", help="manage the agency registry")
    actions = agencies.add_subparsers(dest="action", required=True, metavar="ACTION")
    sync = actions.add_parser(
        "sync", help="validate the registry and publish it to running workers"
    )
    add_agencies_option(sync)
    sync.set_defaults(run=run_sync)
    grant = actions.add_parser(
        "grant",
        help="on a secured cluster: let an agency read its complaints topic, and nothing else",
    )
    grant.add_argument("--agency", required=True, help="agency id, as in the registry")
    add_password_file(grant, "agency")
    add_agencies_option(grant)
    grant.set_defaults(run=run_grant)
    revoke = actions.add_parser("revoke", help="remove an agency's login and rights")
    revoke.add_argument("--agency", required=True, help="agency id")
    revoke.set_defaults(run=run_revoke)


def run_sync(args: argparse.Namespace, settings: Settings) -> int:
    from streams.kafka.registry_topic import publish

    published = publish(settings, args.agencies or settings.registry_file())
    print(
        f"published registry {published.version} ({len(published.agencies)} agencies); "
        "running workers switch to it",
        file=sys.stderr,
    )
    return 0


def run_grant(args: argparse.Namespace, settings: Settings) -> int:
    from streams.kafka.access import agency_user, grant

    made = grant(settings, registry(args, settings), args.agency, args.password_file)
    rights = (
        f"{agency_user(args.agency)} may read {complaint_topic(args.agency)} in group "
        f"{agency_group(args.agency)}"
    )
    return say_granted(rights, made, args.password_file)


def run_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from streams.kafka.access import agency_user

    return revoke_login(settings, agency_user(args.agency))
