"""The worker refuses dependency versions the patches were not verified against, unless told."""

from __future__ import annotations

import logging

import pytest

from streams.compat.guard import VERIFIED, check_versions, unverified
from streams.errors import UnverifiedVersionError
from streams.settings import Settings

VERIFIED_SET = {package: versions[0] for package, versions in VERIFIED.items()}


def test_the_installed_versions_are_the_verified_ones() -> None:
    """The lock file and the verified set agree: deploy/setup.sh installs what was verified."""
    assert unverified() == {}


def test_verified_versions_pass_silently(caplog: pytest.LogCaptureFixture) -> None:
    check_versions(allow_unverified=False, installed=VERIFIED_SET)
    assert not caplog.records


def test_an_unverified_version_is_refused_in_one_line_naming_package_version_and_setting() -> None:
    installed = {**VERIFIED_SET, "faust-streaming": "0.16.0"}
    with pytest.raises(UnverifiedVersionError) as refused:
        check_versions(allow_unverified=False, installed=installed)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("faust-streaming 0.16.0 is not a version")
    assert "ADUAN_ALLOW_UNVERIFIED_VERSIONS=1" in message


def test_a_missing_package_is_refused_too() -> None:
    with pytest.raises(UnverifiedVersionError, match=r"^aiokafka \(not installed\)"):
        check_versions(False, installed={**VERIFIED_SET, "aiokafka": None})


def test_the_override_starts_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    installed = {**VERIFIED_SET, "mode-streaming": "0.8.0"}
    with caplog.at_level(logging.WARNING):
        check_versions(allow_unverified=True, installed=installed)
    assert "mode-streaming 0.8.0" in caplog.text
    assert "ADUAN_ALLOW_UNVERIFIED_VERSIONS" in caplog.text


@pytest.mark.parametrize(("value", "allowed"), [("1", True), ("0", False), ("", False)])
def test_the_override_is_a_setting(value: str, allowed: bool) -> None:
    settings = Settings.from_env({"ADUAN_ALLOW_UNVERIFIED_VERSIONS": value})
    assert settings.allow_unverified_versions is allowed
