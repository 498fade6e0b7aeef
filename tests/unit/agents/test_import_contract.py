"""pyproject.toml's import contract (checked by `lint-imports`) covers the whole core:
`agents/core/`, every other module of `agents/` but the Faust agent and its tables, and
`schemas/`."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_every_module_of_the_core_is_under_the_import_contract() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = config["contracts"]
    beside_core = {f"agents.{path.stem}" for path in (ROOT / "agents").glob("*.py")}
    beside_core -= {"agents.__init__", "agents.route_mentions", "agents.case_threads"}
    beside_core -= {"agents.changelog"}  # the Faust tables beside the agent
    assert set(contract["source_modules"]) == beside_core | {"agents.core", "schemas"}
    assert {"faust", "mode", "aiokafka", "kafka", "streams", "agents.route_mentions"} <= set(
        contract["forbidden_modules"]
    )
