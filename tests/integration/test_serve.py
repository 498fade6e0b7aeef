"""`aduan serve` on a real broker with the worker running: a complaint reaches its agency's
Open311 `requests.json`, the agency's answer on X closes it, and another agency's key sees
neither."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import free_port
from tests.integration.test_forget import produce
from tests.integration.test_pipeline import aduan
from tests.unit.agents.factories import make_post, make_user, stream_line

pytestmark = pytest.mark.integration

KEJATI = ("900000000000000201", "KejatiJateng")  # deploy/agencies.yaml
KEJATI_USER = make_user(*KEJATI, name="Kejati Jateng", verified_type="government")
WARGA = make_user("1600000000000000091", "warga91")


@pytest.fixture
def env(aduan_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {
        **aduan_env,
        "ADUAN_SERVE_PORT": str(free_port()),
        "ADUAN_SERVE_DIR": str(tmp_path / "serve"),
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


def test_a_complaint_is_served_to_its_agency_closed_by_its_answer_and_hidden_from_others(
    env: dict[str, str], worker: Path, serve: str, tmp_path: Path
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
    assert case not in requests_of(serve, bpk)
    assert call(f"{serve}/open311/v2/requests/{case}.json", bpk)[0] == 404
    assert call(f"{serve}/open311/v2/requests/{case}.json", kejati)[0] == 200
    assert call(f"{serve}/open311/v2/requests.json")[0] == 401
