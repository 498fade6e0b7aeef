"""The Open311 GeoReport v2 query of requests.json and of a service request id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agents.core.errors import AduanError
from streams.serve.open311_query import (
    PAGE_LIMIT,
    QueryError,
    RequestsQuery,
    parse_request_id,
    parse_requests_query,
)

NOW = datetime(2026, 6, 20, 5, 0, tzinfo=UTC)


def query(**params: str) -> RequestsQuery:
    return parse_requests_query(params, NOW)


def query_error(**params: str) -> QueryError:
    with pytest.raises(QueryError) as caught:
        query(**params)
    return caught.value


# --- the requests.json query: defaults ---------------------------------------------------------


def test_no_parameters_ask_for_the_last_90_days_and_1000_requests() -> None:
    assert query() == RequestsQuery(
        start=NOW - timedelta(days=90), end=NOW, limit=PAGE_LIMIT, offset=0
    )
    assert PAGE_LIMIT == 1000


def test_an_empty_parameter_counts_as_absent() -> None:
    assert query(start_date="", end_date=" ", status="", service_code="") == query()


def test_unknown_parameters_are_ignored() -> None:
    assert query(jurisdiction_id="jatengprov.go.id", format="json", foo="bar") == query()


def test_a_start_date_alone_asks_for_90_days_from_it() -> None:
    asked = query(start_date="2026-01-01T00:00:00Z")
    assert asked.start == datetime(2026, 1, 1, tzinfo=UTC)
    assert asked.end == datetime(2026, 4, 1, tzinfo=UTC)


def test_an_end_date_alone_asks_for_90_days_up_to_it() -> None:
    asked = query(end_date="2026-04-01T00:00:00Z")
    assert asked.start == datetime(2026, 1, 1, tzinfo=UTC)
    assert asked.end == datetime(2026, 4, 1, tzinfo=UTC)


def test_the_window_may_span_exactly_90_days() -> None:
    asked = query(start_date="2026-01-01T00:00:00Z", end_date="2026-04-01T00:00:00Z")
    assert asked.end - asked.start == timedelta(days=90)  # type: ignore[operator]


def test_dates_with_offsets_are_read_in_utc() -> None:
    asked = query(start_date="2026-06-01T00:00:00+07:00", end_date="2026-06-02T00:00-05:00")
    assert asked.start == datetime(2026, 5, 31, 17, tzinfo=UTC)
    assert asked.end == datetime(2026, 6, 2, 5, tzinfo=UTC)
    assert asked.opened_from == "2026-05-31T17:00:00.000Z"
    assert asked.opened_to == "2026-06-02T05:00:00.000Z"


def test_an_unencoded_plus_of_an_offset_is_read_as_plus() -> None:
    # A URL decoder turns the '+' of `+07:00` into a space.
    asked = query(start_date="2026-06-01T00:00:00 07:00")
    assert asked.start == datetime(2026, 5, 31, 17, tzinfo=UTC)


def test_the_bounds_are_inclusive_at_the_stored_millisecond() -> None:
    asked = query(start_date="2026-06-02T02:00:00.0004Z", end_date="2026-06-02T02:00:00.0019999Z")
    assert (asked.opened_from, asked.opened_to) == (
        "2026-06-02T02:00:00.001Z",
        "2026-06-02T02:00:00.001Z",
    )
    for opened_at, inside in [
        ("2026-06-02T02:00:00.000Z", False),
        ("2026-06-02T02:00:00.001Z", True),
        ("2026-06-02T02:00:00.002Z", False),
    ]:
        assert (asked.opened_from <= opened_at <= asked.opened_to) is inside, opened_at  # type: ignore[operator]


def test_start_and_end_within_one_millisecond_are_not_reversed() -> None:
    asked = query(start_date="2026-06-02T02:00:00.0005Z", end_date="2026-06-02T02:00:00.0005Z")
    assert asked.opened_from == "2026-06-02T02:00:00.001Z"
    assert asked.opened_to == "2026-06-02T02:00:00.000Z"


def test_now_must_have_a_time_zone() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        parse_requests_query({}, datetime(2026, 6, 20, 5))


# --- the requests.json query: filters ----------------------------------------------------------


def test_statuses_are_a_comma_list_of_open_and_closed() -> None:
    assert query(status="open").statuses == ("open",)
    assert query(status="open").case_statuses == ("open", "overdue")
    assert query(status="closed").case_statuses == ("answered",)
    both = query(status="closed, Open,closed")
    assert both.statuses == ("closed", "open")
    assert both.case_statuses == ("answered", "open", "overdue")
    assert query().case_statuses == ()


def test_service_codes_are_a_comma_list_of_agency_ids() -> None:
    assert query(service_code="pt-semarang, kejati-jateng,pt-semarang,").service_codes == (
        "pt-semarang",
        "kejati-jateng",
    )


def test_request_ids_override_every_other_argument() -> None:
    asked = query(
        service_request_id="kejati-jateng:10,pt-semarang:11,kejati-jateng:10",
        start_date="not a date",
        status="pending",
        service_code="pt-semarang",
        page="2",
    )
    assert asked == RequestsQuery(ids=("kejati-jateng:10", "pt-semarang:11"))
    assert (asked.start, asked.end, asked.opened_from, asked.opened_to) == (None,) * 4


def test_a_request_id_splits_into_agency_and_case() -> None:
    assert parse_request_id("kejati-jateng:1790000000000000000") == (
        "kejati-jateng",
        "1790000000000000000",
    )


@pytest.mark.parametrize(
    "value", ["kejati-jateng", ":10", "kejati-jateng:", "kejati-jateng:abc", "KEJATI:10", "a:1:2"]
)
def test_a_malformed_request_id_is_refused(value: str) -> None:
    with pytest.raises(QueryError, match="is not a case key") as caught:
        parse_request_id(value)
    assert caught.value.parameter == "service_request_id"


def test_paging_sets_the_limit_and_the_offset() -> None:
    asked = query(page_size="50", page="3")
    assert (asked.limit, asked.offset) == (50, 100)
    assert (query(page="2").limit, query(page="2").offset) == (1000, 1000)


# --- the requests.json query: errors -----------------------------------------------------------


def test_a_query_error_is_an_aduan_error_naming_the_parameter() -> None:
    error = query_error(status="pending")
    assert isinstance(error, AduanError)
    assert error.parameter == "status"
    assert (
        str(error)
        == error.message
        == ("status 'pending' is unknown; use open, closed or open,closed")
    )


def test_an_end_date_before_the_start_date_is_refused() -> None:
    error = query_error(start_date="2026-06-02T00:00:00Z", end_date="2026-06-01T00:00:00Z")
    assert error.parameter == "end_date"
    assert str(error) == (
        "end_date '2026-06-01T00:00:00Z' is before start_date '2026-06-02T00:00:00Z'; give an "
        "end_date at or after the start_date"
    )


def test_a_window_over_90_days_is_refused() -> None:
    error = query_error(start_date="2026-01-01T00:00:00Z", end_date="2026-04-01T00:00:01Z")
    assert error.parameter == "end_date"
    assert "span more than the 90 days GeoReport v2 allows" in str(error)


@pytest.mark.parametrize(
    "value",
    [
        "2026-06-01",  # no time, so no time zone
        "2026-06-01T00:00:00",  # no time zone
        "2026-06-01 00:00:00Z",
        "20260601T000000Z",
        "yesterday",
        "2026-13-01T00:00:00Z",
        "2026-06-01T25:00:00Z",
        "2026-06-01T00:00:00+24:00",
        "0001-01-01T00:00:00+01:00",  # before the first day in UTC
    ],
)
@pytest.mark.parametrize("parameter", ["start_date", "end_date"])
def test_a_malformed_date_is_refused(parameter: str, value: str) -> None:
    error = query_error(**{parameter: value})
    assert error.parameter == parameter
    assert str(error) == (
        f"{parameter} {value!r} cannot be read as a W3C datetime with a time zone; write a date, "
        "a time and Z or an offset, e.g. 2024-05-01T00:00:00+07:00 or 2024-04-30T17:00:00Z"
    )


@pytest.mark.parametrize(
    ("parameter", "value"),
    [("end_date", "0001-01-01T00:00:00Z"), ("start_date", "9999-12-31T00:00:00Z")],
)
def test_a_window_beyond_the_calendar_is_refused(parameter: str, value: str) -> None:
    error = query_error(**{parameter: value})
    assert error.parameter == parameter
    assert "leaves the calendar" in str(error)


def test_an_unknown_status_is_refused() -> None:
    assert query_error(status="open,pending").parameter == "status"


def test_a_malformed_service_code_is_refused() -> None:
    error = query_error(service_code="kejati-jateng,Kejati Jateng")
    assert error.parameter == "service_code"
    assert str(error) == (
        "service_code 'Kejati Jateng' is not an agency id; use a service_code that services.json "
        "lists, e.g. kejati-jateng"
    )


def test_a_malformed_request_id_in_the_list_is_refused() -> None:
    assert query_error(service_request_id="kejati-jateng:10,10").parameter == ("service_request_id")


def test_more_request_ids_than_a_page_are_refused() -> None:
    ids = ",".join(f"kejati-jateng:{n}" for n in range(PAGE_LIMIT + 1))
    error = query_error(service_request_id=ids)
    assert error.parameter == "service_request_id"
    assert str(error) == ("service_request_id lists 1001 requests; ask for at most 1000 at a time")
    assert len(query(service_request_id=ids.rpartition(",")[0]).ids) == PAGE_LIMIT


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("page_size", "0"),
        ("page_size", "1001"),
        ("page_size", "ten"),
        ("page_size", "-5"),
        ("page", "0"),
        ("page", "1.5"),
        ("page", "1234567890"),
    ],
)
def test_a_bad_page_is_refused(parameter: str, value: str) -> None:
    error = query_error(**{parameter: value})
    assert error.parameter == parameter
    assert str(error).startswith(f"{parameter} {value!r} is not a whole number ")
