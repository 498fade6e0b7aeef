"""`python3 -m streams.compat`: a line per guarded package and per patch, exit 1 if any is off."""

from __future__ import annotations

import pytest

from streams.compat import PATCHES, __main__
from streams.compat.guard import VERIFIED


def test_everything_verified_prints_ok_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert __main__.main() == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(VERIFIED) + len(PATCHES)
    assert all(line.endswith(": ok") for line in lines)


def test_an_unverified_version_is_named_and_exits_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        __main__, "installed_versions", lambda: {**dict.fromkeys(VERIFIED, None), "aiokafka": "9"}
    )
    assert __main__.main() == 1
    assert "version aiokafka 9: NOT VERIFIED (verified: 0.14.0)" in capsys.readouterr().out
