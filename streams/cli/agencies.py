"""`aduan agencies sync|grant|revoke|key`: publish the registry, each agency's login on a secured
cluster, and the keys of `aduan serve`."""

from __future__ import annotations

import argparse
import sys

from schemas.topics import API_KEYS_TOPIC, agency_group, complaint_topic
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
    _add_key_commands(actions)


def _add_key_commands(actions: Commands) -> None:
    key = actions.add_parser("key", help="manage the keys `aduan serve` accepts")
    key_actions = key.add_subparsers(dest="key_action", required=True, metavar="ACTION")
    create = key_actions.add_parser(
        "create", help="make a key and print it, once: aduan keeps only its hash"
    )
    _add_owner_options(
        create,
        "agency id, as in the registry in force: the key sees this agency's cases only",
        "make an admin key, which sees every agency's cases",
    )
    create.set_defaults(run=run_key_create)
    revoke = key_actions.add_parser("revoke", help="revoke a key, or all of an agency's keys")
    _add_owner_options(revoke, "agency id: revoke this agency's keys", "revoke admin keys")
    revoke.add_argument("--key-id", help="revoke this key only (see `aduan agencies key list`)")
    revoke.set_defaults(run=run_key_revoke)
    listing = key_actions.add_parser(
        "list", help="print each key's agency, key id and creation time"
    )
    listing.set_defaults(run=run_key_list)


def _add_owner_options(parser: argparse.ArgumentParser, agency: str, admin: str) -> None:
    owner = parser.add_mutually_exclusive_group(required=True)
    owner.add_argument("--agency", help=agency)
    owner.add_argument("--admin", action="store_true", help=admin)


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


def run_key_create(args: argparse.Namespace, settings: Settings) -> int:
    from streams.serve.keys import create_key

    print(create_key(settings, args.agency))
    print("shown once: store it now; aduan keeps only its hash", file=sys.stderr)
    return 0


def run_key_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from streams.serve.keys import owner_name, revoke_keys

    revoked = revoke_keys(settings, args.agency, args.key_id)
    said = f"revoked {revoked} key(s) of {owner_name(args.agency)}"
    if revoked:
        said += "; running `aduan serve` instances refuse them as soon as they read the revocation"
    print(said, file=sys.stderr)
    return 0


def run_key_list(args: argparse.Namespace, settings: Settings) -> int:
    from streams.serve.keys import ADMIN_OWNER, load_keyring

    keyring, _ = load_keyring(settings)
    rows = [
        (r["agency_id"] or ADMIN_OWNER, r["key_id"], r["created_at"]) for r in keyring.records()
    ]
    if not rows:
        print(f"no keys in {API_KEYS_TOPIC}", file=sys.stderr)
    width = max((len(owner) for owner, _, _ in rows), default=0)
    for owner, key_id, created_at in rows:
        print(f"{owner:<{width}}  {key_id}  {created_at}")
    return 0
