"""The `aduan` command line."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from agents.errors import AduanError
from agents.registry import load_registry
from agents.route import Router
from agents.verify import VerificationPolicy
from streams.route_file import route_file
from streams.settings import ENVIRONMENT, Settings
from streams.synthetic import synthetic_lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        code: int = args.run(args, settings)
    except AduanError as exc:
        print(f"aduan {args.command}: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader (e.g. `head`) went away: not an error of ours. Point stdout at /dev/null so
        # the interpreter's final flush does not complain again.
        with contextlib.suppress(OSError):
            sys.stdout = open("/dev/null", "w")  # noqa: SIM115
        return 0
    except OSError as exc:
        # A read or write failing midway (disk full, I/O error): say so without a traceback.
        where = f" {exc.filename}" if exc.filename else ""
        print(f"aduan {args.command}:{where} {exc.strerror or exc}", file=sys.stderr)
        return 1
    return code


def _parser() -> argparse.ArgumentParser:
    environment = "\n".join(
        f"  {name:<22} {meaning} (default: {default})" for name, default, meaning in ENVIRONMENT
    )
    parser = argparse.ArgumentParser(
        prog="aduan",
        description="Routes X mentions of government agencies to per-agency complaint topics.",
        epilog=f"environment:\n{environment}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    route = commands.add_parser(
        "route",
        help="route a JSON Lines file of mentions offline, as the live pipeline would",
        description=(
            "Apply the routing decisions to every line of INPUT and write one JSON line per event: "
            '{"topic": ..., "key": ..., "value": {...}}. Per-topic counts go to stderr.'
        ),
    )
    route.add_argument("--agencies", type=Path, help="registry file (default: $ADUAN_AGENCIES)")
    route.add_argument("--input", default="-", help="JSON Lines input, or - for stdin (default)")
    route.add_argument("--output", default="-", help="output file, or - for stdout (default)")
    route.add_argument(
        "--verified-types",
        help="comma-separated verification types to serve (default: $ADUAN_VERIFIED_TYPES)",
    )
    route.set_defaults(run=_run_route)

    synthetic = commands.add_parser(
        "synthetic",
        help="write realistic synthetic mentions (X API v2 stream messages) as JSON Lines",
    )
    synthetic.add_argument("--agencies", type=Path, help="registry file (default: $ADUAN_AGENCIES)")
    synthetic.add_argument("--count", type=_positive, default=1000, help="mentions (default 1000)")
    synthetic.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    synthetic.add_argument("--output", default="-", help="output file, or - for stdout (default)")
    synthetic.set_defaults(run=_run_synthetic)
    return parser


def _run_route(args: argparse.Namespace, settings: Settings) -> int:
    registry = load_registry(args.agencies or settings.agencies)
    policy = settings.policy
    if args.verified_types is not None:
        policy = VerificationPolicy.from_names(args.verified_types.split(","), "--verified-types")
    router = Router(registry, policy, seen=set())
    with _open(args.input, "rb", "input") as source, _open(args.output, "wb", "output") as sink:
        lines, counts = route_file(router, source, sink)
    total = sum(counts.values())
    print(f"{lines} lines -> {total} events (registry {registry.version})", file=sys.stderr)
    for topic, count in sorted(counts.items()):
        print(f"  {topic:<40} {count:>9}", file=sys.stderr)
    return 0


def _run_synthetic(args: argparse.Namespace, settings: Settings) -> int:
    registry = load_registry(args.agencies or settings.agencies)
    with _open(args.output, "wb", "output") as sink:
        for line in synthetic_lines(registry, args.count, args.seed):
            sink.write(line + b"\n")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


@contextlib.contextmanager
def _open(name: str, mode: str, role: str) -> Iterator[BinaryIO]:
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
