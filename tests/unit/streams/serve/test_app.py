"""`streams.serve.app`: the Open311 API over a view, through FastAPI's test client (no broker)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from streams.serve.app import Served, create_app
from streams.serve.keys import Keyring
from streams.serve.view import View
from tests.unit.streams.serve.conftest import NOW, REGISTRY, Ready, key_of


def get(client: TestClient, path: str, key: str | None = None, **params: Any) -> Any:
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    return client.get(path, headers=headers, params=params)


def test_an_agency_sees_its_own_cases_as_service_requests_and_nothing_of_another(
    client: TestClient, keyring: Keyring
) -> None:
    kejati = key_of(keyring, "kejati-jateng")
    response = get(client, "/open311/v2/requests.json", kejati)
    assert response.status_code == 200
    requests = response.json()
    assert [r["service_request_id"] for r in requests] == ["kejati-jateng:102", "kejati-jateng:101"]
    assert [r["status"] for r in requests] == ["closed", "open"]
    assert requests[1]["description"] == "aduan 101"
    assert requests[1]["agency_responsible"] == "Kejaksaan Tinggi Jawa Tengah"
    assert get(client, "/open311/v2/requests.json", kejati, service_code="bpk-jateng").json() == []
    other = get(client, "/open311/v2/requests/bpk-jateng:201.json", kejati)
    missing = get(client, "/open311/v2/requests/kejati-jateng:999.json", kejati)
    assert (other.status_code, missing.status_code) == (404, 404)
    # The same answer as for a case that does not exist: nothing says agency B has case 201.
    assert other.json() == [{"code": 404, "description": "no service request bpk-jateng:201"}]
    assert missing.json() == [{"code": 404, "description": "no service request kejati-jateng:999"}]
    one = get(client, "/open311/v2/requests/kejati-jateng:101.json", kejati).json()
    assert [r["service_request_id"] for r in one] == ["kejati-jateng:101"]


def test_an_admin_key_sees_every_agency_and_filters_by_status(
    client: TestClient, keyring: Keyring
) -> None:
    admin = key_of(keyring, None)
    everything = get(client, "/open311/v2/requests.json", admin).json()
    assert len(everything) == 3
    open_ones = get(client, "/open311/v2/requests.json", admin, status="open").json()
    assert sorted(r["service_request_id"] for r in open_ones) == [
        "bpk-jateng:201",
        "kejati-jateng:101",
    ]


@pytest.mark.parametrize("key", [None, "aduan_0123456789abcdef_" + "A" * 43, "Basic x"])
def test_no_key_or_an_unknown_one_is_refused_with_401(client: TestClient, key: str | None) -> None:
    response = get(client, "/open311/v2/requests.json", key)
    assert response.status_code == 401
    assert response.json()[0]["code"] == 401
    assert "Authorization: Bearer" in response.json()[0]["description"]


def test_bad_parameters_name_themselves_and_unknown_paths_answer_json_404(
    client: TestClient, keyring: Keyring
) -> None:
    kejati = key_of(keyring, "kejati-jateng")
    bad = get(client, "/open311/v2/requests.json", kejati, start_date="yesterday")
    assert bad.status_code == 400
    assert "start_date" in bad.json()[0]["description"]
    lost = get(client, "/nowhere", kejati)
    assert (lost.status_code, lost.json()) == (404, [{"code": 404, "description": "no such path"}])


def test_an_oversized_request_is_refused_and_the_openapi_document_lists_the_routes(
    client: TestClient,
) -> None:
    big = client.request("GET", "/open311/v2/services.json", content=b"x" * 20_000)
    assert big.status_code == 413
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/open311/v2/services.json", "/open311/v2/requests.json"} <= set(paths)
    assert "/open311/v2/requests/{service_request_id}.json" in paths


def test_a_key_may_come_as_the_user_name_of_basic_credentials(
    client: TestClient, keyring: Keyring
) -> None:
    kejati = key_of(keyring, "kejati-jateng")
    served = client.get("/open311/v2/requests.json", auth=(kejati, ""))
    assert served.status_code == 200
    assert {r["service_code"] for r in served.json()} == {"kejati-jateng"}
    unknown = client.get("/open311/v2/requests.json", auth=("aduan_0123456789abcdef_x", ""))
    garbled = client.get(
        "/open311/v2/requests.json", headers={"Authorization": "Basic %%not-base64%%"}
    )
    assert (unknown.status_code, garbled.status_code) == (401, 401)
    assert garbled.json()[0]["code"] == 401


def test_a_chunked_body_is_refused_as_it_announces_no_length(client: TestClient) -> None:
    chunks = iter([b"key=" + b"x" * 1024] * 64)
    refused = client.post(
        "/inbox/sign-in",
        content=chunks,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert refused.status_code == 413
    assert refused.json()[0]["code"] == 413


def test_a_background_follower_that_fails_makes_healthz_fail(tmp_path: Path) -> None:
    async def broken() -> None:
        raise RuntimeError("the keys topic is away")

    served = Served(
        View(tmp_path / "view.sqlite"),
        Ready(),
        Keyring(),
        lambda: REGISTRY,
        lambda: NOW,
        CollectorRegistry(),
    )
    with TestClient(create_app(served, [broken]), raise_server_exceptions=False) as client:
        health = client.get("/healthz")
    assert health.status_code == 503
    assert "the keys topic is away" in health.json()["status"]
