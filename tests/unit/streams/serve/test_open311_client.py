"""An Open311 client from outside this project (georeport, on PyPI) reads `aduan serve`'s answers
over HTTP, its key taken from a netrc file as such clients do (no broker)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import georeport
import pytest
import uvicorn
from fastapi.testclient import TestClient
from requests import HTTPError

from streams.serve.keys import Keyring
from tests.unit.streams.serve.conftest import key_of

HOST = "127.0.0.1"


@pytest.fixture
def address(client: TestClient) -> Iterator[str]:
    """The test client's app, served by uvicorn on a free port of this machine."""
    server = uvicorn.Server(uvicorn.Config(client.app, host=HOST, port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start in 10 s"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{HOST}:{port}/open311/v2"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def netrc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    path = tmp_path / "netrc"
    path.write_text(f"machine {HOST} login {key} password ''\n")
    path.chmod(0o600)
    monkeypatch.setenv("NETRC", str(path))


def test_georeport_reads_services_requests_and_one_request(
    address: str, keyring: Keyring, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc(tmp_path, monkeypatch, key_of(keyring, "kejati-jateng"))
    client = georeport.GeoReport(address)
    services = client.get_service_list()
    assert {"service_code": "kejati-jateng", "service_name": "Kejaksaan Tinggi Jawa Tengah"} in [
        {name: service[name] for name in ("service_code", "service_name")} for service in services
    ]
    requests = client.get_service_requests(status="open")
    assert [r["service_request_id"] for r in requests] == ["kejati-jateng:101"]
    one = client.get_service_request("kejati-jateng:102")
    assert (one["status"], one["description"]) == ("closed", "aduan 102")
    with pytest.raises(HTTPError) as refused:
        client.get_service_request("bpk-jateng:201")
    assert refused.value.response.status_code == 404


def test_georeport_without_a_key_is_refused(
    address: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETRC", str(tmp_path / "absent"))
    with pytest.raises(HTTPError) as refused:
        georeport.GeoReport(address).get_service_requests()
    assert refused.value.response.status_code == 401
