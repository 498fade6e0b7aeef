"""The start-up check that the installed dependencies are the versions the patches were verified
against: a release that moves what a patch touches could turn the commit path into silent loss."""

from __future__ import annotations

import logging
from importlib import metadata

from streams.errors import UnverifiedVersionError

log = logging.getLogger(__name__)

ALLOW_SETTING = "ADUAN_ALLOW_UNVERIFIED_VERSIONS"

VERIFIED: dict[str, tuple[str, ...]] = {
    "faust-streaming": ("0.15.3",),
    "mode-streaming": ("0.7.1",),
    "aiokafka": ("0.14.0",),
    "kafka-python": ("3.0.12",),
    "prometheus-client": ("0.26.0",),
}
"""Each package the patches reach into, and the versions every patch was verified against (the
unit suite's shape tests and the integration suite passed on them)."""


def unverified(installed: dict[str, str | None] | None = None) -> dict[str, str | None]:
    """The guarded packages whose installed version (None: not installed) is not verified."""
    versions = installed if installed is not None else installed_versions()
    return {
        package: version
        for package, version in versions.items()
        if version not in VERIFIED[package]
    }


def installed_versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for package in VERIFIED:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def check_versions(allow_unverified: bool, installed: dict[str, str | None] | None = None) -> None:
    """Refuse to go on with an unverified version, unless the setting allows it: then warn."""
    wrong = unverified(installed)
    if not wrong:
        return
    package, version = next(iter(wrong.items()))
    described = ", ".join(f"{name} {found or 'not installed'}" for name, found in wrong.items())
    if allow_unverified:
        log.warning(
            "running with dependency versions aduan's patches were not verified against (%s); "
            "%s is set. Check them with `python3 -m streams.compat`",
            described,
            ALLOW_SETTING,
        )
        return
    raise UnverifiedVersionError(
        f"{package} {version or '(not installed)'} is not a version aduan's compatibility patches "
        f"were verified against ({', '.join(VERIFIED[package])}): install the locked versions with "
        f"deploy/setup.sh, or set {ALLOW_SETTING}=1 to start anyway"
    )
