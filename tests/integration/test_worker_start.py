"""The worker starts wherever it is started, and only on the dependency versions its patches were
verified against unless told otherwise."""

from __future__ import annotations

import contextlib
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import aduan_environment

pytestmark = pytest.mark.integration


def ready(port: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://localhost:{port}/readyz", timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, ConnectionError):
        return False


@contextlib.contextmanager
def running_until_ready(env: dict[str, str], cwd: Path, log: Path) -> Iterator[None]:
    with log.open("wb") as out:
        worker = subprocess.Popen(["aduan", "worker"], env=env, cwd=cwd, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 90
        while not ready(env["ADUAN_WEB_PORT"]):
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "not ready in 90 s:\n" + log.read_text()
            time.sleep(0.5)
        yield
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def fake_faust(tmp_path: Path, version: str) -> str:
    """A directory that, first on PYTHONPATH, makes importlib.metadata report this faust-streaming
    version (the code imported stays the installed one)."""
    site = tmp_path / "fake-site"
    info = site / f"faust_streaming-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: faust-streaming\nVersion: {version}\n"
    )
    return str(site)


def test_a_worker_started_from_an_empty_directory_gets_ready(broker: str, tmp_path: Path) -> None:
    env = aduan_environment(broker, tmp_path)
    del env["ADUAN_WORKER_DIR"]  # the default, relative to the empty directory
    empty = tmp_path / "empty"
    empty.mkdir()
    with running_until_ready(env, empty, tmp_path / "worker.log"):
        assert (empty / ".run" / "worker").is_dir()


def test_the_worker_refuses_an_unverified_faust_version(broker: str, tmp_path: Path) -> None:
    env = {**aduan_environment(broker, tmp_path), "PYTHONPATH": fake_faust(tmp_path, "0.99.0")}
    refused = subprocess.run(
        ["aduan", "worker"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert refused.returncode == 1
    assert refused.stderr.startswith(
        "aduan worker: faust-streaming 0.99.0 is not a version aduan's compatibility patches"
    )
    assert refused.stderr.count("\n") == 1
    assert "ADUAN_ALLOW_UNVERIFIED_VERSIONS=1" in refused.stderr


def test_the_override_starts_it_with_a_warning(broker: str, tmp_path: Path) -> None:
    env = {
        **aduan_environment(broker, tmp_path),
        "PYTHONPATH": fake_faust(tmp_path, "0.99.0"),
        "ADUAN_ALLOW_UNVERIFIED_VERSIONS": "1",
    }
    log = tmp_path / "worker.log"
    with running_until_ready(env, tmp_path, log):
        assert "faust-streaming 0.99.0" in log.read_text()
