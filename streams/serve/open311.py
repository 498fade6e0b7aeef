"""Open311 GeoReport v2, read side: agencies as services and cases as service requests. Pure
mapping: `aduan serve` does the HTTP and the view the storage; `open311_query` reads the query of
`requests.json`.

Follows the GeoReport v2 specification (wiki.open311.org/GeoReport_v2). Its JSON responses are
arrays: of services, of service requests (one for `requests/{id}.json` too), or of errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Final, Literal

import orjson

from agents.core.registry import Agency, Registry
from agents.core.workdays import WIB
from schemas.events import Case, CaseStatus

Open311Status = Literal["open", "closed"]

DESCRIPTION_LIMIT: Final = 4000
"""A service request's `description` is "free form text limited to 4,000 characters"."""

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def error_body(code: int, description: str) -> list[dict[str, object]]:
    """The specification's error response: an array of errors, each a code and a description
    for the user. The code should in most cases be the HTTP status."""
    return [{"code": code, "description": description}]


def services(registry: Registry) -> list[dict[str, object]]:
    """`services.json`: one service per agency, its code the agency id."""
    return [_service(agency) for agency in registry.agencies]


def _service(agency: Agency) -> dict[str, object]:
    handles = [f"@{account.username}" for account in agency.accounts]
    return {
        "service_code": agency.id,
        "service_name": agency.name,
        "description": (
            f"Complaints on X that mention {' or '.join(handles)}. {agency.name} is to answer "
            f"each on X within {_working_days(agency.answer_within_working_days)}."
        ),
        "metadata": False,
        "type": "realtime",
        "keywords": ", ".join(handles),
        "group": None,
    }


def service_request(
    case: Case, description: str | None, url: str | None, agency_name: str, updated_at: str
) -> dict[str, object]:
    """A case as a service request, with every field of the specification.

    `description` is the complaint's text and `url` its post on X, None once forgotten;
    `updated_at` is when the case last changed. The post's URL is the `media_url`: the
    specification allows a page that holds the media (its example is a Twitpic page)."""
    return {
        "service_request_id": f"{case['agency_id']}:{case['case_id']}",
        "status": open311_status(case["status"]),
        "status_notes": status_notes(case),
        "service_name": agency_name,
        "service_code": case["agency_id"],
        "description": _clip(description),
        "agency_responsible": agency_name,
        "service_notice": None,
        "requested_datetime": case["opened_at"],
        "updated_datetime": updated_at,
        "expected_datetime": case["due_at"],
        "address": None,
        "address_id": None,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": url,
    }


_NAMED = (b'"service_name":', b'"agency_responsible":')
"""The fields that hold the agency's name."""


def unnamed_request(case: Case, description: str | None, url: str | None, updated_at: str) -> bytes:
    """`service_request` as JSON, each of its agency's names a NUL byte, which `requests_json`
    replaces with the name in force when it serves it: a view renders a case once, and the
    registry may rename an agency later. No NUL byte is otherwise part of the JSON, as orjson
    escapes control characters within strings; and an unescaped `"service_name":` can only be
    the field's name, as every quote within a string is escaped."""
    body = orjson.dumps(service_request(case, description, url, "", updated_at))
    for field in _NAMED:
        body = body.replace(field + b'""', field + b"\0", 1)
    return body


def requests_json(requests: Sequence[tuple[str, bytes]], names: Mapping[str, str]) -> bytes:
    """The JSON array of `requests`, each an agency id and its `unnamed_request`, named after
    their agencies in `names` (by id, for an agency `names` lacks)."""
    if not requests:
        return b"[]"
    named = {agency: orjson.dumps(names.get(agency, agency)) for agency in {a for a, _ in requests}}
    bodies = [request.replace(b"\0", named[agency]) for agency, request in requests]
    # The brackets go on the first and last request: a page is copied whole once, as every
    # whole copy of it costs more than all the small ones.
    bodies[0] = b"[" + bodies[0]
    bodies[-1] += b"]"
    return b",".join(bodies)


def open311_status(status: CaseStatus) -> Open311Status:
    return "closed" if status == "answered" else "open"


def status_notes(case: Case) -> str:
    """Whether and when the agency answered the case on X, in plain English, times in WIB."""
    due = datetime.fromisoformat(case["due_at"])
    # `due_at` is 00:00 WIB of the day after the last day to answer.
    deadline = f"the end of {_day((due.astimezone(WIB) - timedelta(days=1)).date())}"
    answered_at = case["first_answer_at"]
    if case["status"] == "answered" and answered_at is not None:
        days = case["working_days_to_answer"]
        after = "" if days is None else f", {_working_days(days)} after the complaint"
        verdict = {True: ": on time", False: ": late", None: ""}[case["answered_on_time"]]
        return (
            f"Answered by the agency on X on {_moment(datetime.fromisoformat(answered_at))}"
            f"{after}{verdict} (the deadline was {deadline}, WIB)."
        )
    if case["status"] == "answered":
        return "Answered by the agency on X."
    if case["status"] == "overdue":
        return (
            f"Not answered, and overdue since {_moment(due)}: the agency was to answer on X "
            f"by {deadline}."
        )
    return f"Not answered yet: the agency is to answer on X by {deadline} (WIB)."


def _day(day: date) -> str:
    return f"{_DAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


def _moment(moment: datetime) -> str:
    wib = moment.astimezone(WIB)
    return f"{_day(wib.date())} at {wib:%H:%M} WIB"


def _working_days(count: int) -> str:
    return f"{count} working day{'' if count == 1 else 's'}"


def _clip(text: str | None) -> str | None:
    """The text within the specification's limit, its cut marked with an ellipsis."""
    if text is None or len(text) <= DESCRIPTION_LIMIT:
        return text
    return text[: DESCRIPTION_LIMIT - 1] + "…"
