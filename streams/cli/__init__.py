"""The `aduan` command line: one module per command group. Each only parses its arguments and calls
the module that does the work, importing it when the command runs, so `aduan route` starts without
Kafka or Faust."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence

from agents.core.errors import AduanError
from streams.cli import (
    agencies,
    compliance,
    deliver,
    forget,
    produce,
    replay,
    report,
    route,
    serve,
    services,
    subscribe,
    synthetic,
    topics,
    worker,
)
from streams.settings import ENVIRONMENT, Settings

COMMAND_GROUPS = (
    route,
    synthetic,
    topics,
    agencies,
    services,
    worker,
    produce,
    subscribe,
    deliver,
    replay,
    report,
    forget,
    compliance,
    serve,
)


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
    for group in COMMAND_GROUPS:
        group.add_to(commands)
    return parser
