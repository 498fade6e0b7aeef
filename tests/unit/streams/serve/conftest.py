"""What the serve tests share: a view of three cases of two agencies, served through FastAPI's
test client, and the keyring its keys go into."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from agents.core.registry import load_registry
from streams.serve.app import Served, create_app
from streams.serve.keys import Keyring, key_record, new_key
from streams.serve.view import Record, View
from tests.unit.agents.factories import make_case

ROOT = Path(__file__).resolve().parents[4]
REGISTRY = load_registry(ROOT / "deploy" / "agencies.yaml")
NOW = datetime(2026, 6, 20, tzinfo=UTC)


class Ready:
    ready = True


def key_of(keyring: Keyring, agency: str | None) -> str:
    key_id, key = new_key()
    keyring.add(key_record(agency, key_id, key, NOW))
    return key


@pytest.fixture
def keyring() -> Keyring:
    return Keyring()


@pytest.fixture
def client(tmp_path: Path, keyring: Keyring) -> Iterator[TestClient]:
    view = View(tmp_path / "view.sqlite")
    records = []
    for offset, (agency, case_id, status) in enumerate(
        [
            ("kejati-jateng", "101", "open"),
            ("kejati-jateng", "102", "answered"),
            ("bpk-jateng", "201", "overdue"),
        ]
    ):
        case = make_case(
            status, agency, case_id=case_id, opened_at=f"2026-06-0{offset + 1}T02:00:00.000Z"
        )
        key = f"{agency}:{case_id}".encode()
        records.append(Record("cases", 0, offset, key, orjson.dumps(case), 1_780_000_000_000))
        complaint = {
            "complaint_id": case_id,
            "agency_id": agency,
            "revision": 0,
            "text": f"aduan {case_id}",
            "url": f"https://x.com/warga/status/{case_id}",
        }
        records.append(Record(f"complaints.{agency}", 0, offset, key, orjson.dumps(complaint), 0))
    with closing(view.writer()) as db:
        view.apply(db, records)
    served = Served(view, Ready(), keyring, lambda: REGISTRY, lambda: NOW, CollectorRegistry())
    with TestClient(create_app(served), raise_server_exceptions=False) as test_client:
        yield test_client
