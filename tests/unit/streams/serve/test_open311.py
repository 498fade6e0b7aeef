"""The Open311 GeoReport v2 mapping: services, service requests, error responses."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from streams.serve.open311 import (
    error_body,
    requests_json,
    service_request,
    services,
    unnamed_request,
)
from tests.unit.agents.factories import build_registry, make_case

# The fields of GET Service List and of GET Service Request(s) in the specification.
SERVICE_FIELDS = {
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
}
REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}
KEJATI = "Kejaksaan Tinggi Jawa Tengah"
UPDATED = "2026-06-03T04:00:00.000Z"
URL = "https://x.com/warga_semarang/status/10"


def request_of(**fields: Any) -> dict[str, object]:
    """The service request of a `make_case(**fields)` case with a text and a link."""
    return service_request(make_case(**fields), "Jalan rusak", URL, KEJATI, UPDATED)


# --- services.json -----------------------------------------------------------------------------


def test_services_are_the_registry_agencies_in_order() -> None:
    listed = services(build_registry())
    assert [(s["service_code"], s["service_name"]) for s in listed] == [
        ("kejati-jateng", KEJATI),
        ("pemprov-jateng", "Pemerintah Provinsi Jawa Tengah"),
        ("pt-semarang", "Pengadilan Tinggi Semarang"),
        ("bpk-jateng", "BPK Perwakilan Jawa Tengah"),
    ]
    assert all(set(service) == SERVICE_FIELDS for service in listed)


def test_a_service_has_no_metadata_is_realtime_and_no_group() -> None:
    (kejati, *_) = services(build_registry())
    assert kejati["metadata"] is False
    assert kejati["type"] == "realtime"
    assert kejati["group"] is None


def test_a_service_names_its_handles_and_its_deadline() -> None:
    pemprov = services(build_registry())[1]
    assert pemprov["keywords"] == "@humasjateng, @PemprovJateng"
    assert pemprov["description"] == (
        "Complaints on X that mention @humasjateng or @PemprovJateng. Pemerintah Provinsi Jawa "
        "Tengah is to answer each on X within 5 working days."
    )


def test_a_service_with_one_working_day_says_day() -> None:
    registry = build_registry(
        "agencies:\n"
        "  - id: dinkes\n"
        "    name: Dinas Kesehatan\n"
        "    answer_within_working_days: 1\n"
        '    accounts: [{id: "9", username: dinkes}]\n'
    )
    (dinkes,) = services(registry)
    assert dinkes["description"] == (
        "Complaints on X that mention @dinkes. Dinas Kesehatan is to answer each on X within "
        "1 working day."
    )


# --- a service request -------------------------------------------------------------------------


def test_a_service_request_has_every_field_of_the_specification() -> None:
    request = request_of()
    assert set(request) == REQUEST_FIELDS
    assert orjson.loads(orjson.dumps(request)) == request


def test_a_service_request_maps_the_case() -> None:
    request = request_of()
    assert request["service_request_id"] == "kejati-jateng:10"
    assert request["service_code"] == "kejati-jateng"
    assert request["service_name"] == KEJATI
    assert request["agency_responsible"] == KEJATI
    assert request["description"] == "Jalan rusak"
    assert request["requested_datetime"] == "2026-06-02T02:00:00.000Z"
    assert request["expected_datetime"] == "2026-06-09T17:00:00.000Z"
    assert request["updated_datetime"] == UPDATED
    assert request["media_url"] == URL


def test_what_aduan_cannot_fill_is_null() -> None:
    request = request_of()
    for field in ("service_notice", "address", "address_id", "zipcode", "lat", "long"):
        assert request[field] is None, field


def test_a_forgotten_complaint_has_no_description_and_no_media() -> None:
    request = service_request(make_case(), None, None, KEJATI, UPDATED)
    assert request["description"] is None
    assert request["media_url"] is None


def test_the_description_keeps_to_the_specifications_4000_characters() -> None:
    exact = "a" * 4000
    assert service_request(make_case(), exact, URL, KEJATI, UPDATED)["description"] == exact
    clipped = service_request(make_case(), "b" * 4001, URL, KEJATI, UPDATED)["description"]
    assert clipped == "b" * 3999 + "…"


@pytest.mark.parametrize(
    ("case_status", "status"), [("open", "open"), ("overdue", "open"), ("answered", "closed")]
)
def test_open_and_overdue_cases_are_open_and_answered_ones_closed(
    case_status: str, status: str
) -> None:
    assert request_of(status=case_status)["status"] == status


def test_the_notes_of_an_open_case_give_the_last_day_to_answer() -> None:
    # Due at 00:00 WIB on Wednesday 10 June: the last day to answer is Tuesday 9 June.
    assert request_of()["status_notes"] == (
        "Not answered yet: the agency is to answer on X by the end of Tuesday 9 June 2026 (WIB)."
    )


def test_the_notes_of_an_overdue_case_say_since_when() -> None:
    assert request_of(status="overdue")["status_notes"] == (
        "Not answered, and overdue since Wednesday 10 June 2026 at 00:00 WIB: the agency was to "
        "answer on X by the end of Tuesday 9 June 2026."
    )


@pytest.mark.parametrize(
    ("answer", "notes"),
    [
        (
            {"answers": 1, "first_answer_at": "2026-06-03T03:15:00.000Z"}
            | {"working_days_to_answer": 1, "answered_on_time": True},
            "Answered by the agency on X on Wednesday 3 June 2026 at 10:15 WIB, 1 working day "
            "after the complaint: on time (the deadline was the end of Tuesday 9 June 2026, WIB).",
        ),
        (
            {"answers": 2, "first_answer_at": "2026-06-11T01:00:00.000Z"}
            | {"working_days_to_answer": 7, "answered_on_time": False},
            "Answered by the agency on X on Thursday 11 June 2026 at 08:00 WIB, 7 working days "
            "after the complaint: late (the deadline was the end of Tuesday 9 June 2026, WIB).",
        ),
    ],
)
def test_the_notes_of_an_answered_case_say_when_and_whether_on_time(
    answer: dict[str, Any], notes: str
) -> None:
    answered = request_of(status="answered", first_answer_tweet_id="11", **answer)
    assert answered["status_notes"] == notes


def test_the_notes_of_an_answer_without_a_verdict_give_only_its_time() -> None:
    answered = request_of(status="answered", first_answer_at="2026-06-03T03:15:00.000Z")
    assert answered["status_notes"] == (
        "Answered by the agency on X on Wednesday 3 June 2026 at 10:15 WIB (the deadline was "
        "the end of Tuesday 9 June 2026, WIB)."
    )


def test_the_notes_of_an_answered_case_without_its_time_say_only_answered() -> None:
    assert request_of(status="answered")["status_notes"] == "Answered by the agency on X."


# --- service requests rendered once, named when served ----------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Jalan rusak",
        '"service_name":"" and "agency_responsible":""',
        "a NUL \x00 and an escaped one \\u0000",
        None,
    ],
)
def test_a_rendered_request_named_when_served_is_the_mapping_of_its_case(text: str | None) -> None:
    case = make_case()
    rendered = unnamed_request(case, text, URL, UPDATED)
    assert rendered.count(b"\0") == 2
    served = orjson.loads(requests_json([("kejati-jateng", rendered)], {"kejati-jateng": KEJATI}))
    assert served == [service_request(case, text, URL, KEJATI, UPDATED)]


def test_requests_of_several_agencies_each_get_their_agencys_name_or_else_its_id() -> None:
    kejati = unnamed_request(make_case(), "a", URL, UPDATED)
    bpk = unnamed_request(make_case(agency="bpk-jateng", case_id="11"), "b", URL, UPDATED)
    pairs = [("kejati-jateng", kejati), ("bpk-jateng", bpk), ("kejati-jateng", kejati)]
    served = orjson.loads(requests_json(pairs, {"kejati-jateng": KEJATI}))
    assert [(r["service_name"], r["agency_responsible"]) for r in served] == [
        (KEJATI, KEJATI),
        ("bpk-jateng", "bpk-jateng"),
        (KEJATI, KEJATI),
    ]
    assert requests_json([], {}) == b"[]"


# --- errors ------------------------------------------------------------------------------------


def test_an_error_body_is_an_array_of_code_and_description() -> None:
    assert error_body(400, "status 'x' is unknown") == [
        {"code": 400, "description": "status 'x' is unknown"}
    ]
