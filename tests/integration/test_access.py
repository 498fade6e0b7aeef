"""Access control on a secured broker (SASL/SCRAM-SHA-512 and Kafka's standard authorizer): the
worker and the producer run with the logins `aduan services grant` made them, and may do their job
and nothing else; an agency granted with `aduan agencies grant` reads its own complaints and nothing
else, with aduan or with a librdkafka-based client; a wrong password is refused; no password shows
in any log, nor on any process's command line."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import confluent_kafka
import orjson
import pytest

from agents.core.registry import load_registry
from agents.core.split import split_line
from streams.kafka.access import service_user
from streams.settings import SERVICES
from tests.integration.conftest import ROOT, BrokerProcess, Worker, aduan_environment
from tests.integration.test_replay import REGISTRY, route

pytestmark = pytest.mark.integration

SAMPLE = ROOT / "deploy" / "samples" / "mentions.jsonl"


class CommandLines:
    """Every distinct command line of every process on this machine, read from /proc every few
    milliseconds while the context is open: a password passed as an argument shows there."""

    def __init__(self) -> None:
        self.seen: set[bytes] = set()
        self._done = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> CommandLines:
        self._sampler.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._sampler.join()

    def _sample(self) -> None:
        while not self._done.is_set():
            for entry in os.scandir("/proc"):
                if entry.name.isdigit():
                    # A process may have gone since the listing.
                    with contextlib.suppress(OSError):
                        self.seen.add(Path(entry.path, "cmdline").read_bytes())
            self._done.wait(0.002)


@dataclass
class Secured:
    broker: BrokerProcess
    first_start: set[bytes]
    """Every command line seen on the machine while the broker formatted its storage and started."""


@pytest.fixture(scope="module")
def secured(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[Secured]:
    process = BrokerProcess(tmp_path_factory.mktemp("secured"), pytestconfig, sasl=True)
    with CommandLines() as command_lines:
        process.start()
    try:
        yield Secured(process, command_lines.seen)
    finally:
        process.stop()


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


def grant_agency(admin: dict[str, str], agency: str, password: Path, log: list[str]) -> None:
    granted = run(admin, "agencies", "grant", "--agency", agency, "--password-file",
                  str(password), log=log)  # fmt: skip
    assert granted.returncode == 0, granted.stderr
    assert password.stat().st_mode & 0o777 == 0o600


@dataclass
class Routed:
    """The sample, routed on the secured broker by a worker and a producer that log in as
    themselves; the worker keeps running until the module's tests are done."""

    admin: dict[str, str]
    services: dict[str, dict[str, str]]
    worker_log: Path
    log: list[str]
    """Every aduan command's output, for the secrets check."""


@pytest.fixture(scope="module")
def routed(secured: Secured, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Routed]:
    directory = tmp_path_factory.mktemp("access")
    admin = {
        **aduan_environment(secured.broker.address, directory),
        "ADUAN_KAFKA_USERNAME": "admin",
        "ADUAN_KAFKA_PASSWORD_FILE": str(secured.broker.data_dir / "admin.password"),
    }
    log: list[str] = []
    assert run(admin, "topics", "create", log=log).returncode == 0
    services = {service: grant_service(admin, service, directory, log) for service in SERVICES}
    worker = Worker(services["worker"], directory / "worker.log")
    worker.start()
    try:
        produced = run(services["producer"], "produce", "--file", str(SAMPLE), log=log)
        assert produced.returncode == 0, produced.stderr
        yield Routed(admin, services, worker.log, log)
    finally:
        worker.stop()


def routed_to(agency: str) -> list[str]:
    """The event ids of the sample's complaints to `agency`, sorted."""
    posts = [post for line in SAMPLE.read_bytes().splitlines() for post in split_line(line)]
    return sorted(
        event["event_id"]
        for topic, _, event in route(load_registry(REGISTRY), posts)
        if topic == f"complaints.{agency}"
    )


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
    secured: Secured, routed: Routed, tmp_path: Path
) -> None:
    admin, services, log = routed.admin, routed.services, routed.log
    kejati_password, bpk_password = tmp_path / "kejati.password", tmp_path / "bpk.password"
    grant_agency(admin, "kejati-jateng", kejati_password, log)
    grant_agency(admin, "bpk-jateng", bpk_password, log)
    kejati = {
        **admin,
        "ADUAN_KAFKA_USERNAME": "agency-kejati-jateng",
        "ADUAN_KAFKA_PASSWORD_FILE": str(kejati_password),
    }
    expected = routed_to("kejati-jateng")
    own = run(kejati, "subscribe", "--agency", "kejati-jateng", "--from-beginning",
              "--max-events", str(len(expected)), log=log)  # fmt: skip
    assert own.returncode == 0, own.stderr
    assert sorted(orjson.loads(line)["event_id"] for line in own.stdout.splitlines()) == expected

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

    logs = [*log, routed.worker_log.read_text()]
    logs += [path.read_text(errors="replace") for path in secured.broker.data_dir.glob("*.log")]
    service_passwords = [Path(env["ADUAN_KAFKA_PASSWORD_FILE"]) for env in services.values()]
    admin_password = Path(admin["ADUAN_KAFKA_PASSWORD_FILE"])
    for password in (admin_password, kejati_password, bpk_password, *service_passwords):
        secret = password.read_text().strip()
        assert not any(secret in text for text in logs), f"{password.name} leaked into a log"


def test_no_password_on_a_command_line_while_the_broker_starts(secured: Secured) -> None:
    """Any local user can read every process's command line: the admin password, which the
    broker's first start writes into its storage, must never be on one."""
    password = (secured.broker.data_dir / "admin.password").read_text().strip().encode()
    assert any(b"kafka.tools.StorageTool\0format" in line for line in secured.first_start), (
        "the sampler never saw the storage being formatted"
    )
    leaking = [
        line.replace(password, b"<password>") for line in secured.first_start if password in line
    ]
    assert not leaking, leaking


def librdkafka_consumer(broker: str, agency: str, password: Path) -> confluent_kafka.Consumer:
    """A consumer as an agency's own software would make it, logged in as the agency."""
    return confluent_kafka.Consumer(
        {
            "bootstrap.servers": broker,
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": f"agency-{agency}",
            "sasl.password": password.read_text().strip(),
            "group.id": f"aduan-agency-{agency}",
            "auto.offset.reset": "earliest",
        }
    )


def test_an_agency_reads_its_own_complaints_with_librdkafka(
    secured: Secured, routed: Routed, tmp_path: Path
) -> None:
    library = confluent_kafka.libversion()[0]
    print(f"librdkafka {library}, confluent-kafka {confluent_kafka.__version__}")
    password = tmp_path / "dishub.password"
    grant_agency(routed.admin, "dishub-jateng", password, routed.log)
    expected = routed_to("dishub-jateng")

    consumer = librdkafka_consumer(secured.broker.address, "dishub-jateng", password)
    read: list[str] = []
    try:
        consumer.subscribe(["complaints.dishub-jateng"])
        deadline = time.monotonic() + 60
        while len(read) < len(expected) and time.monotonic() < deadline:
            message = consumer.poll(1)
            if message is None:
                continue
            assert message.error() is None, message.error()
            read.append(orjson.loads(message.value() or b"")["event_id"])
    finally:
        consumer.close()
    assert sorted(read) == expected

    consumer = librdkafka_consumer(secured.broker.address, "dishub-jateng", password)
    errors: list[confluent_kafka.KafkaError] = []
    try:
        consumer.subscribe(["complaints.bpk-jateng"])
        deadline = time.monotonic() + 30
        while not errors and time.monotonic() < deadline:
            message = consumer.poll(1)
            if message is not None:
                error = message.error()
                assert error is not None, "read another agency's complaint"
                errors.append(error)
    finally:
        consumer.close()
    assert [error.code() for error in errors] == [
        confluent_kafka.KafkaError.TOPIC_AUTHORIZATION_FAILED
    ], errors
