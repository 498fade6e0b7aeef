"""Settings, built once from `ADUAN_*` environment variables and passed to whatever needs them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from agents.verify import DEFAULT_VERIFIED_TYPES, VerificationPolicy

# (variable, default, meaning) for `aduan --help`.
ENVIRONMENT = (
    ("ADUAN_AGENCIES", "deploy/agencies.yaml", "agency registry file"),
    (
        "ADUAN_VERIFIED_TYPES",
        ",".join(sorted(DEFAULT_VERIFIED_TYPES)),
        "verification types served (comma-separated)",
    ),
)


@dataclass(frozen=True, slots=True)
class Settings:
    agencies: Path
    policy: VerificationPolicy

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        defaults = {name: default for name, default, _ in ENVIRONMENT}

        def get(name: str) -> str:
            return env.get(name) or defaults[name]

        return cls(
            agencies=Path(get("ADUAN_AGENCIES")),
            policy=VerificationPolicy.from_names(
                get("ADUAN_VERIFIED_TYPES").split(","), "ADUAN_VERIFIED_TYPES"
            ),
        )
