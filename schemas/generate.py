"""Writes the JSON Schema files of schemas/ from the records in schemas/events.py.

`python3 -m schemas.generate` writes them; `--check` writes nothing and fails, listing the files,
when a checked-in file differs from what generation gives.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from schemas.events import Case, Complaint, DeadLetter, ForgetRequest, Rejection, Withdrawal

HERE = Path(__file__).resolve().parent
DRAFT = "https://json-schema.org/draft/2020-12/schema"
BASE_ID = "https://aduan.invalid/schemas/"
RECORDS: dict[str, type] = {
    "complaint": Complaint,
    "rejection": Rejection,
    "dead_letter": DeadLetter,
    "case": Case,
    "forget_request": ForgetRequest,
    "withdrawal": Withdrawal,
}
"""Each file's name (without `.schema.json`) and the record it describes."""


def schema_of(name: str) -> dict[str, Any]:
    """The JSON Schema of `RECORDS[name]`: the record at the root, the records it holds in $defs."""
    record = RECORDS[name]
    _, components = msgspec.json.schema_components([record], ref_template="#/$defs/{name}")
    for component in components.values():
        if "description" in component:
            # From a docstring, wrapped at the line length: one line in the schema.
            component["description"] = " ".join(component["description"].split())
        if component.get("type") == "object":
            # Closed: a new field comes with a new SCHEMA_VERSION, and a file that says so.
            component["additionalProperties"] = False
    root = components.pop(record.__name__)
    schema = {"$schema": DRAFT, "$id": f"{BASE_ID}{name}.schema.json", **root}
    if components:
        schema["$defs"] = dict(sorted(components.items()))
    return schema


def render(name: str) -> str:
    return json.dumps(schema_of(name), indent=2) + "\n"


def stale(directory: Path) -> list[Path]:
    """The schema files in `directory` that are missing or differ from what generation gives."""
    paths = {name: directory / f"{name}.schema.json" for name in RECORDS}
    return [
        path
        for name, path in paths.items()
        if not path.exists() or path.read_text(encoding="utf-8") != render(name)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m schemas.generate", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; fail if a file differs"
    )
    args = parser.parse_args(argv)
    if args.check:
        differing = stale(HERE)
        for path in differing:
            print(
                f"{path} is missing or differs from what schemas/events.py generates: "
                "run python3 -m schemas.generate",
                file=sys.stderr,
            )
        return 1 if differing else 0
    for name in RECORDS:
        (HERE / f"{name}.schema.json").write_text(render(name), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
