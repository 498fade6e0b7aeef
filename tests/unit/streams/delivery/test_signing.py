"""`streams.delivery.signing`: the webhook body and event id of each kind of record, the
signature a receiver checks, and the dead letter of an event given up on."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from streams.delivery.signing import (
    RESPONSE_KEPT,
    Delivery,
    dead_letter,
    delivery_of,
    sign,
    verify,
)
from tests.unit.streams.delivery.webhook_records import (
    STAMP_MS,
    Record,
    case_record,
    complaint,
    complaint_record,
    withdrawal,
)

SECRET = b"whsec-test-0123456789"
BODY = b'{"type":"complaint"}'
# From `printf '%s' '1700000000.{"type":"complaint"}' | openssl dgst -sha256 -hmac
# 'whsec-test-0123456789'`: a value computed outside this code.
OPENSSL_HEX = "946b926d2e0643024de94db820fcc5d72607c1ea5ffbf5c3b2bef463c3573c05"


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    assert sign(SECRET, BODY, 1_700_000_000) == f"t=1700000000,v1={OPENSSL_HEX}"


def test_a_fresh_signature_verifies() -> None:
    header = sign(SECRET, BODY, 1_700_000_000)
    assert verify(SECRET, BODY, header, now=1_700_000_299)
    assert verify(SECRET, BODY, header.replace(",", ", "), now=1_700_000_000)


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [
        (b"another-secret-0123", BODY, 1_700_000_000),
        (SECRET, BODY + b" ", 1_700_000_000),
        (SECRET, BODY, 1_700_000_301),  # older than the tolerance: a replay
        (SECRET, BODY, 1_699_999_699),  # from the future beyond it
    ],
    ids=["wrong secret", "body changed", "too old", "too new"],
)
def test_a_signature_fails_on_another_secret_body_or_time(
    secret: bytes, body: bytes, now: float
) -> None:
    assert not verify(secret, body, sign(SECRET, BODY, 1_700_000_000), now=now)


@pytest.mark.parametrize(
    "header",
    [
        "",
        f"v1={OPENSSL_HEX}",
        f"t=abc,v1={OPENSSL_HEX}",
        f"t=1700000000,t=1700000000,v1={OPENSSL_HEX}",
        "t=1700000000",
        f"t=1700000000,v0={OPENSSL_HEX}",
    ],
)
def test_a_malformed_header_fails(header: str) -> None:
    assert not verify(SECRET, BODY, header, now=1_700_000_000)


def test_any_matching_v1_verifies_for_receivers_rotating_secrets() -> None:
    header = f"t=1700000000,v1={'0' * 64},v1={OPENSSL_HEX}"
    assert verify(SECRET, BODY, header, now=1_700_000_000)


def _body(delivery: Delivery | None) -> object:
    assert delivery is not None
    return orjson.loads(delivery.body)


def test_a_complaint_is_sent_with_its_event_id() -> None:
    event = complaint()
    delivery = delivery_of(complaint_record(event, offset=7, partition=2))
    assert delivery is not None
    assert (delivery.agency_id, delivery.type, delivery.event_id) == (
        "kejati-jateng",
        "complaint",
        event["event_id"],
    )
    assert _body(delivery) == {"type": "complaint", "id": event["event_id"], "data": event}
    assert delivery.source == {"topic": "complaints.kejati-jateng", "partition": 2, "offset": 7}
    assert delivery.timestamp_ms == STAMP_MS


def test_a_withdrawal_is_sent_as_one() -> None:
    event = withdrawal("1790000000000000123")
    delivery = delivery_of(complaint_record(event, offset=8))
    assert _body(delivery) == {"type": "withdrawal", "id": event["event_id"], "data": event}


def test_a_case_change_has_an_id_from_its_key_and_offset() -> None:
    record = case_record(41, case_id="1790000000000000123", status="overdue")
    delivery = delivery_of(record)
    assert delivery is not None
    assert delivery.event_id == "case:kejati-jateng:1790000000000000123:41"
    assert _body(delivery) == {
        "type": "case",
        "id": delivery.event_id,
        "data": orjson.loads(record.value or b""),
    }
    # The same record read again (a redelivery) has the same id; the next change another.
    again = delivery_of(case_record(41, case_id="1790000000000000123", status="overdue"))
    assert again is not None and again.event_id == delivery.event_id
    later = delivery_of(case_record(42, case_id="1790000000000000123", status="answered"))
    assert later is not None and later.event_id != delivery.event_id


def test_a_case_tombstone_is_sent_as_case_removed() -> None:
    delivery = delivery_of(case_record(9, agency="pt-semarang", case_id="55", removed=True))
    assert delivery is not None and delivery.agency_id == "pt-semarang"
    assert _body(delivery) == {
        "type": "case_removed",
        "id": "case:pt-semarang:55:9",
        "data": {"agency_id": "pt-semarang", "case_id": "55"},
    }


def test_unrouted_complaints_go_to_no_agency() -> None:
    event = complaint()
    assert delivery_of(complaint_record(event, offset=1, agency="unrouted")) is None


@pytest.mark.parametrize(
    "record",
    [
        Record("complaints.kejati-jateng", 0, 3, b"1", b"not json"),
        Record("complaints.kejati-jateng", 0, 3, b"1", b'{"complaint_id": "1"}'),
        Record("complaints.kejati-jateng", 0, 3, b"1", b'{"event_id": 5}'),
        Record("complaints.kejati-jateng", 0, 3, b"1", b"[1, 2]"),
        Record("cases", 0, 3, b"no-colon", b"{}"),
        Record("cases", 0, 3, None, b"{}"),
        Record("cases", 0, 3, b"kejati-jateng:10", b"{broken"),
    ],
)
def test_a_record_aduan_did_not_write_is_named_by_where_it_was_read(record: Record) -> None:
    with pytest.raises(ValueError, match=rf"^{record.topic}\[0\]@3 "):
        delivery_of(record)


def test_a_dead_letter_keeps_the_event_and_the_start_of_the_answer() -> None:
    event = complaint()
    delivery = delivery_of(complaint_record(event, offset=5))
    assert delivery is not None
    answer = b"\xff" + b"x" * (RESPONSE_KEPT + 10)
    key, value = dead_letter(
        delivery,
        "https://example.go.id/aduan",
        reason="refused",
        error="HTTP 400",
        status=400,
        response=answer,
        attempts=1,
        failed_at=datetime(2026, 6, 2, 3, 0, tzinfo=UTC),
    )
    assert key == f"kejati-jateng:{event['event_id']}".encode()
    letter = orjson.loads(value)
    assert letter["event"] == {"type": "complaint", "id": event["event_id"], "data": event}
    assert letter["response"] == "\ufffd" + "x" * (RESPONSE_KEPT - 1)
    assert letter["response_truncated"] is True
    assert {k: v for k, v in letter.items() if k not in ("event", "response")} == {
        "agency_id": "kejati-jateng",
        "url": "https://example.go.id/aduan",
        "source": {"topic": "complaints.kejati-jateng", "partition": 0, "offset": 5},
        "reason": "refused",
        "error": "HTTP 400",
        "status": 400,
        "response_truncated": True,
        "attempts": 1,
        "failed_at": "2026-06-02T03:00:00.000Z",
        "schema_version": 3,
    }


def test_a_short_answer_is_kept_whole() -> None:
    delivery = delivery_of(case_record(1))
    assert delivery is not None
    _, value = dead_letter(
        delivery,
        "https://example.go.id/aduan",
        reason="retries_exhausted",
        error="no answer within 10 s",
        status=None,
        response=b"",
        attempts=12,
        failed_at=datetime(2026, 6, 2, 3, 0, tzinfo=UTC),
    )
    letter = orjson.loads(value)
    assert (letter["response"], letter["response_truncated"], letter["status"]) == ("", False, None)
