"""Kafka records of the complaint topics and `cases`, as `aduan deliver` reads them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from schemas.events import SCHEMA_VERSION
from tests.unit.agents.factories import (
    KEJATI_HANDLE,
    KEJATI_ID,
    make_case,
    make_post,
    make_router,
    route,
    stream_line,
)

STAMP_MS = 1_780_000_000_000


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int = STAMP_MS


def complaint(text: str = "@KejatiJateng jalan rusak di Jl. Pemuda") -> dict[str, Any]:
    """A complaint event to kejati-jateng, as the router makes it."""
    post = make_post(text, mentions=[(KEJATI_ID, KEJATI_HANDLE)])
    ((_topic, _key, event),) = route(make_router(), stream_line(post))
    return dict(event)


def withdrawal(complaint_id: str, agency: str = "kejati-jateng") -> dict[str, Any]:
    return {
        "event_id": f"{complaint_id}:withdrawn:{agency}",
        "complaint_id": complaint_id,
        "agency_id": agency,
        "tweet_id": complaint_id,
        "reason": "the author asked",
        "withdrawn_at": "2026-06-03T01:00:00.000Z",
        "schema_version": SCHEMA_VERSION,
    }


def complaint_record(
    event: dict[str, Any], offset: int, agency: str = "kejati-jateng", partition: int = 0
) -> Record:
    key = str(event["complaint_id"]).encode()
    return Record(f"complaints.{agency}", partition, offset, key, orjson.dumps(event))


def case_record(
    offset: int,
    agency: str = "kejati-jateng",
    case_id: str = "10",
    partition: int = 0,
    **fields: Any,
) -> Record:
    """A case state of `agency` on `cases`; `removed=True` makes it a tombstone."""
    key = f"{agency}:{case_id}".encode()
    if fields.pop("removed", False):
        return Record("cases", partition, offset, key, None)
    state = make_case(agency=agency, case_id=case_id, **fields)
    return Record("cases", partition, offset, key, orjson.dumps(state))
