"""Options and argument types that several commands share."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, TypeAlias

from agents.core.errors import AduanError
from agents.core.registry import Registry, load_registry
from agents.core.verify import VerificationPolicy
from streams.settings import Settings

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""What `add_subparsers` returns: each command group adds its commands to it."""


def add_agencies_option(
    parser: argparse.ArgumentParser, meaning: str = "registry file (default: $ADUAN_AGENCIES)"
) -> None:
    parser.add_argument("--agencies", type=Path, help=meaning)


def registry(args: argparse.Namespace, settings: Settings) -> Registry:
    """The registry of `--agencies`, else the one `ADUAN_AGENCIES` names."""
    return load_registry(args.agencies or settings.registry_file())


def add_policy_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--verified-types",
        help="comma-separated verification types to serve (default: $ADUAN_VERIFIED_TYPES)",
    )


def policy(args: argparse.Namespace, settings: Settings) -> VerificationPolicy:
    if args.verified_types is None:
        return settings.policy
    return VerificationPolicy.from_names(args.verified_types.split(","), "--verified-types")


def add_password_file(parser: argparse.ArgumentParser, whose: str) -> None:
    parser.add_argument(
        "--password-file",
        type=Path,
        required=True,
        help=f"the {whose}'s password: read from this file, or made and written to it (mode 600)",
    )


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def iso_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone; add Z or +07:00")
    return moment


@contextlib.contextmanager
def open_stream(name: str, mode: str, role: str) -> Iterator[BinaryIO]:
    """`name` opened for `role`, `-` meaning stdin/stdout."""
    if name == "-":
        stream = sys.stdin.buffer if "r" in mode else sys.stdout.buffer
        yield stream
        stream.flush()
        return
    try:
        handle: BinaryIO = open(name, mode)  # type: ignore[assignment]  # noqa: SIM115
    except OSError as exc:
        raise AduanError(f"cannot open {role} {name}: {exc.strerror or exc}") from None
    with handle:
        yield handle
