"""`aduan serve` and `aduan deliver` on a real broker with the worker running: a complaint
reaches its agency's Open311 `requests.json` and its webhook, the agency's answer on X closes it
in both, and another agency's key and webhook see neither."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.delivery.signing import verify
from tests.integration.conftest import ROOT, free_port
from tests.integration.test_forget import produce
from tests.integration.test_pipeline import aduan
from tests.unit.agents.factories import make_post, make_user, stream_line

pytestmark = pytest.mark.integration

KEJATI = ("900000000000000201", "KejatiJateng")  # deploy/agencies.yaml
KEJATI_USER = make_user(*KEJATI, name="Kejati Jateng", verified_type="government")
WARGA = make_user("1600000000000000091", "warga91")


SECRETS = {"kejati-jateng": b"kejati-secret-0123456789", "bpk-jateng": b"bpk-secret-0123456789"}


class Receiver(ThreadingHTTPServer):
    """Webhook endpoints on this machine: `/<agency id>` records each signed POST it is sent."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: dict[str, list[dict[str, Any]]] = {agency: [] for agency in SECRETS}
        self.forged = 0

    def events(self, agency: str) -> list[dict[str, Any]]:
        return list(self.received[agency])


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        agency = self.path.strip("/")
        body = self.rfile.read(int(self.headers["Content-Length"]))
        signed = verify(SECRETS[agency], body, self.headers["Aduan-Signature"], time.time())
        if signed:
            self.server.received[agency].append(json.loads(body))
        else:
            self.server.forged += 1
        self.send_response(204 if signed else 400)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads what was received, not the access log."""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def env(aduan_env: dict[str, str], tmp_path: Path, receiver: Receiver) -> dict[str, str]:
    """The test's registry gives kejati-jateng and bpk-jateng webhooks on `receiver`."""
    registry = yaml.safe_load((ROOT / "deploy" / "agencies.yaml").read_text())
    for agency in registry["agencies"]:
        if agency["id"] in SECRETS:
            secret = tmp_path / f"{agency['id']}.secret"
            secret.write_bytes(SECRETS[agency["id"]] + b"\n")
            port = receiver.server_address[1]
            agency["webhook"] = {
                "url": f"http://127.0.0.1:{port}/{agency['id']}",
                "secret_file": str(secret),
            }
    agencies = tmp_path / "agencies.yaml"
    agencies.write_text(yaml.safe_dump(registry, allow_unicode=True))
    return {
        **aduan_env,
        "ADUAN_AGENCIES": str(agencies),
        "ADUAN_SERVE_PORT": str(free_port()),
        "ADUAN_SERVE_DIR": str(tmp_path / "serve"),
        "ADUAN_DELIVER_PORT": str(free_port()),
    }


@pytest.fixture
def serve(env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """A running `aduan serve`, once ready; its base address."""
    aduan(env, "topics", "create")
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["aduan", "serve"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://localhost:{env['ADUAN_SERVE_PORT']}"
    try:
        deadline = time.monotonic() + 60
        while call(base + "/readyz")[0] != 200:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "not ready in 60 s:\n" + log.read_text()
            time.sleep(0.5)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def deliver(env: dict[str, str], worker: Path, tmp_path: Path) -> Iterator[None]:
    """A running `aduan deliver` with the test's registry published, once it reads partitions."""
    aduan(env, "agencies", "sync")
    log = tmp_path / "deliver.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["aduan", "deliver"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while not ready(f"http://localhost:{env['ADUAN_DELIVER_PORT']}/readyz"):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "not ready in 60 s:\n" + log.read_text()
            time.sleep(0.5)
        yield
    finally:
        process.terminate()
        assert process.wait(timeout=60) == 0, log.read_text()


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError):
        return False


def call(url: str, key: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url)
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")
    except urllib.error.URLError:
        return 0, None


def requests_of(base: str, key: str) -> dict[str, dict[str, Any]]:
    status, body = call(base + "/open311/v2/requests.json", key)
    assert status == 200, body
    return {request["service_request_id"]: request for request in body}


def wait_for(check: Any, what: str) -> None:
    deadline = time.monotonic() + 90
    while not check():
        assert time.monotonic() < deadline, f"not in 90 s: {what}"
        time.sleep(1)


def complaints_of(receiver: Receiver, agency: str, complaint_id: str) -> list[dict[str, Any]]:
    """The complaint events the agency's webhook received for `complaint_id`."""
    return [
        event
        for event in receiver.events(agency)
        if event["type"] == "complaint" and event["data"]["complaint_id"] == complaint_id
    ]


def cases_of(receiver: Receiver, agency: str, case_id: str) -> list[dict[str, Any]]:
    """The case states the agency's webhook received for `case_id`, in the order received."""
    return [
        event["data"]
        for event in receiver.events(agency)
        if event["type"] == "case" and event["data"]["case_id"] == case_id
    ]


@pytest.mark.usefixtures("worker", "deliver")
def test_a_complaint_is_served_to_its_agency_closed_by_its_answer_and_hidden_from_others(
    env: dict[str, str], serve: str, receiver: Receiver, tmp_path: Path
) -> None:
    kejati = aduan(env, "agencies", "key", "create", "--agency", "kejati-jateng").strip()
    bpk = aduan(env, "agencies", "key", "create", "--agency", "bpk-jateng").strip()
    now = datetime.now(UTC)
    at = (now - timedelta(hours=2)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    complaint = make_post(
        f"@{KEJATI[1]} lampu jalan mati", author_id=WARGA["id"], mentions=[KEJATI], created_at=at
    )
    case = f"kejati-jateng:{complaint['id']}"
    produce(env, tmp_path, stream_line(complaint, [WARGA]))
    wait_for(lambda: case in requests_of(serve, kejati), "the complaint in requests.json")
    served = requests_of(serve, kejati)[case]
    assert (served["status"], served["description"]) == ("open", complaint["text"])
    assert served["agency_responsible"] == "Kejaksaan Tinggi Jawa Tengah"
    wait_for(
        lambda: cases_of(receiver, "kejati-jateng", complaint["id"]), "the case at the webhook"
    )
    complaints = complaints_of(receiver, "kejati-jateng", complaint["id"])
    assert [e["data"]["text"] for e in complaints] == [complaint["text"]]
    assert complaints[0]["id"] == complaints[0]["data"]["event_id"]

    answered_at = (
        (now - timedelta(hours=1)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )
    answer = make_post(
        f"@{WARGA['username']} sudah kami tindak lanjuti",
        author_id=KEJATI[0],
        mentions=[(WARGA["id"], WARGA["username"])],
        referenced_tweets=[("replied_to", complaint["id"])],
        in_reply_to_user_id=WARGA["id"],
        conversation_id=complaint["id"],
        created_at=answered_at,
    )
    produce(env, tmp_path, stream_line(answer, [KEJATI_USER]))
    wait_for(
        lambda: requests_of(serve, kejati)[case]["status"] == "closed", "the answer closing it"
    )
    wait_for(
        lambda: cases_of(receiver, "kejati-jateng", complaint["id"])[-1]["status"] == "answered",
        "the answer at the webhook",
    )
    assert cases_of(receiver, "kejati-jateng", complaint["id"])[0]["status"] == "open"
    # The broker is shared: other tests' events reach the webhooks too, never this one's.
    assert complaints_of(receiver, "bpk-jateng", complaint["id"]) == []
    assert cases_of(receiver, "bpk-jateng", complaint["id"]) == []
    assert receiver.forged == 0
    assert case not in requests_of(serve, bpk)
    assert call(f"{serve}/open311/v2/requests/{case}.json", bpk)[0] == 404
    assert call(f"{serve}/open311/v2/requests/{case}.json", kejati)[0] == 200
    assert call(f"{serve}/open311/v2/requests.json")[0] == 401
