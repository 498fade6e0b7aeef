"""`python3 -m streams.compat`: each patch's upstream shape and each guarded package's version,
one line each; exit 1 if any is off. `deploy/upgrade.sh` runs it against the newest releases."""

from __future__ import annotations

import importlib
import sys

from streams.compat import PATCHES
from streams.compat.guard import VERIFIED, installed_versions


def main() -> int:
    failed = False
    for package, version in installed_versions().items():
        ok = version in VERIFIED[package]
        failed |= not ok
        verdict = "ok" if ok else f"NOT VERIFIED (verified: {', '.join(VERIFIED[package])})"
        print(f"version {package} {version or '(not installed)'}: {verdict}")
    for name in PATCHES:
        try:
            module = importlib.import_module(f"streams.compat.{name}")
        except Exception as exc:  # an import that breaks is what this reports
            failed = True
            print(f"patch {name}: FAILED: cannot import: {exc!r}")
            continue
        problems = [p for upstream in module.UPSTREAM if (p := upstream.problem()) is not None]
        failed |= bool(problems)
        print(f"patch {name} ({module.KIND}): {'; '.join(problems) or 'ok'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
