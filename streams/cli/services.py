"""`aduan services grant|revoke`: the worker's and the producer's own logins on a secured
cluster."""

from __future__ import annotations

import argparse

from streams.cli.logins import revoke_login, say_granted
from streams.cli.options import Commands, add_password_file
from streams.settings import SERVICES, Settings


def add_to(commands: Commands) -> None:
    services = commands.add_parser(
        "services", help="on a secured cluster: logins of their own for the worker and producer"
    )
    actions = services.add_subparsers(dest="action", required=True, metavar="ACTION")
    grant = actions.add_parser(
        "grant", help="give the worker or the producer a login with the least rights it needs"
    )
    grant.add_argument("service", choices=SERVICES)
    add_password_file(grant, "service")
    grant.set_defaults(run=run_grant)
    revoke = actions.add_parser("revoke", help="remove a service's login and rights")
    revoke.add_argument("service", choices=SERVICES)
    revoke.set_defaults(run=run_revoke)


def run_grant(args: argparse.Namespace, settings: Settings) -> int:
    from streams.kafka.access import grant_service, service_user

    user = service_user(args.service)
    made = grant_service(settings, args.service, args.password_file)
    rights = f"{user} may do what the {args.service} does, and nothing else"
    return say_granted(rights, made, args.password_file)


def run_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from streams.kafka.access import service_user

    return revoke_login(settings, service_user(args.service))
