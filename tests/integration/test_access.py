"""Access control on a secured broker (SASL/SCRAM-SHA-512 and Kafka's standard authorizer): the
worker and the producer run with the logins `aduan services grant` made them, and may do their job
and nothing else; an agency granted with `aduan agencies grant` reads its own complaints and nothing
else; a wrong password is refused; no password shows in any log."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from agents.registry import load_registry
from agents.split import split_line
from streams.access import service_user
from streams.settings import SERVICES
from tests.integration.conftest import ROOT, BrokerProcess, Worker, aduan_environment
from tests.integration.test_replay import REGISTRY, route

pytestmark = pytest.mark.integration

SAMPLE = ROOT / "deploy" / "samples" / "mentions.jsonl"


@pytest.fixture(scope="module")
def secured(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[BrokerProcess]:
    with BrokerProcess(tmp_path_factory.mktemp("secured"), pytestconfig, sasl=True) as process:
        yield process


def run(env: dict[str, str], *args: str, log: list[str]) -> subprocess.CompletedProcess[str]:
    """`aduan ARGS`; its output is kept in `log` for the secrets check."""
    done = subprocess.run(
        ["aduan", *args], env=env, capture_output=True, text=True, check=False, timeout=180
    )
    log += [done.stdout, done.stderr]
    return done


def grant_service(
    admin: dict[str, str], service: str, tmp_path: Path, log: list[str]
) -> dict[str, str]:
    """`aduan services grant SERVICE`; the environment the service then runs with."""
    password = tmp_path / f"{service}.password"
    granted = run(admin, "services", "grant", service, "--password-file", str(password), log=log)
    assert granted.returncode == 0, granted.stderr
    return {
        **admin,
        "ADUAN_KAFKA_USERNAME": service_user(service),
        "ADUAN_KAFKA_PASSWORD_FILE": str(password),
    }


def check_services_may_not_overstep(services: dict[str, dict[str, str]], log: list[str]) -> None:
    """The producer may not read complaints; the worker may not forge mentions."""
    snooping = run(services["producer"], "subscribe", "--agency", "kejati-jateng",
                   "--from-beginning", "--max-events", "1", log=log)  # fmt: skip
    assert snooping.returncode == 1
    assert "Kafka refused aduan-producer access to complaints.kejati-jateng" in snooping.stderr
    forging = run(services["worker"], "produce", "--file", str(SAMPLE), log=log)
    assert forging.returncode == 1
    assert "aduan-worker may not write to mentions.raw" in forging.stderr


def test_every_login_may_do_its_job_and_nothing_else(
    secured: BrokerProcess, tmp_path: Path
) -> None:
    admin_password = secured.data_dir / "admin.password"
    admin = {
        **aduan_environment(secured.address, tmp_path),
        "ADUAN_KAFKA_USERNAME": "admin",
        "ADUAN_KAFKA_PASSWORD_FILE": str(admin_password),
    }
    log: list[str] = []
    kejati_password, bpk_password = tmp_path / "kejati.password", tmp_path / "bpk.password"
    assert run(admin, "topics", "create", log=log).returncode == 0
    services = {service: grant_service(admin, service, tmp_path, log) for service in SERVICES}
    for agency, password in (("kejati-jateng", kejati_password), ("bpk-jateng", bpk_password)):
        granted = run(admin, "agencies", "grant", "--agency", agency, "--password-file",
                      str(password), log=log)  # fmt: skip
        assert granted.returncode == 0, granted.stderr
        assert password.stat().st_mode & 0o777 == 0o600

    worker = Worker(services["worker"], tmp_path / "worker.log")
    worker.start()
    try:
        produced = run(services["producer"], "produce", "--file", str(SAMPLE), log=log)
        assert produced.returncode == 0, produced.stderr
        kejati = {
            **admin,
            "ADUAN_KAFKA_USERNAME": "agency-kejati-jateng",
            "ADUAN_KAFKA_PASSWORD_FILE": str(kejati_password),
        }
        posts = [post for line in SAMPLE.read_bytes().splitlines() for post in split_line(line)]
        expected = sorted(
            event["event_id"]
            for topic, _, event in route(load_registry(REGISTRY), posts)
            if topic == "complaints.kejati-jateng"
        )
        own = run(kejati, "subscribe", "--agency", "kejati-jateng", "--from-beginning",
                  "--max-events", str(len(expected)), log=log)  # fmt: skip
        assert own.returncode == 0, own.stderr
        assert sorted(orjson.loads(line)["event_id"] for line in own.stdout.splitlines()) == (
            expected
        )

        other = run(kejati, "subscribe", "--agency", "bpk-jateng", "--from-beginning",
                    "--max-events", "1", log=log)  # fmt: skip
        assert other.returncode == 1
        assert "Kafka refused agency-kejati-jateng access to complaints.bpk-jateng" in other.stderr

        raw = run(kejati, "replay", "--since", "1970-01-01T00:00:00Z", "--output", "-", log=log)
        assert raw.returncode == 1
        assert "ADUAN_KAFKA_USERNAME=agency-kejati-jateng may not read it" in raw.stderr

        wrong = run({**kejati, "ADUAN_KAFKA_PASSWORD_FILE": str(bpk_password)}, "subscribe",
                    "--agency", "kejati-jateng", "--max-events", "1", log=log)  # fmt: skip
        assert wrong.returncode == 1
        assert "refused the login of ADUAN_KAFKA_USERNAME=agency-kejati-jateng" in wrong.stderr

        check_services_may_not_overstep(services, log)

        revoked = run(admin, "agencies", "revoke", "--agency", "kejati-jateng", log=log)
        assert revoked.returncode == 0, revoked.stderr
        after = run(kejati, "subscribe", "--agency", "kejati-jateng", "--max-events", "1",
                    log=log)  # fmt: skip
        assert after.returncode == 1

        assert run(admin, "services", "revoke", "producer", log=log).returncode == 0
        retired = run(services["producer"], "produce", "--file", str(SAMPLE), log=log)
        assert retired.returncode == 1
        assert "refused the login of ADUAN_KAFKA_USERNAME=aduan-producer" in retired.stderr
    finally:
        worker.stop()

    logs = [*log, (tmp_path / "worker.log").read_text()]
    logs += [path.read_text(errors="replace") for path in secured.data_dir.glob("*.log")]
    service_passwords = [Path(env["ADUAN_KAFKA_PASSWORD_FILE"]) for env in services.values()]
    for password in (admin_password, kejati_password, bpk_password, *service_passwords):
        secret = password.read_text().strip()
        assert not any(secret in text for text in logs), f"{password.name} leaked into a log"
